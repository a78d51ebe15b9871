"""The sessionizer with a production-sized audience in state, in PyFlink's mini-cluster (prints figures).

Run in the sessionizer's environment: `make bench-sessionizer-state`. For each size (100,000 and
1,000,000 open sessions by default) the job (process mode, parallelism 1, as the other job
benchmarks) reads a generated stream (bench/sessionizer_state/, a DataGeneratorSource):

1. **Opening**: every session opens (init, metadata, bitrate, playing) as fast as the job takes it.
2. **Steady**: heartbeats at a fixed rate for minutes, each session one per 5 s of event time, a
   session replaced by a new one every 240 rounds. Measured: the rate the job sustained, events
   per CPU-second of the mini-cluster (JVM and Python workers), session records out, the p50/p99
   time from an event's generation to the record that carries it leaving the job (records are
   updates every `update.interval.ms`, so that interval bounds it from below), the state's
   memory per open session (heap after a GC and the Python workers' resident memory, over the
   sessions), and the newest completed checkpoint's size and duration.
3. **Restore**: the job is cancelled and started again from its newest retained checkpoint, as
   after a failure; measured: the time until it runs again and until it sustains the rate again.

Event time is a function of the event's index, so the restored run continues with exactly the
events the first one would have had next.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.results import Figure, add_reference_option, record
from bench.sessionizer import WORKER_MODE_VARIABLE, CpuMeter, _descendants

ROOT = Path(__file__).resolve().parents[1]
JAVA_SOURCES = ROOT / "bench" / "sessionizer_state"
JAR = ROOT / "build" / "bench" / "prism-bench-state.jar"
HEARTBEAT_MS = 5_000
ROUNDS_PER_SESSION = 240  # 20 minutes of 5 s heartbeats
CHECKPOINT_INTERVAL_MS = 60_000  # slowprod's


def build_jar(flink_dist: Path) -> None:
    """The generator and the latency sink, compiled against the Flink this environment runs."""
    classes = JAR.parent / "state-classes"
    shutil.rmtree(classes, ignore_errors=True)
    classes.mkdir(parents=True)
    sources = sorted(str(path) for path in JAVA_SOURCES.rglob("*.java"))
    subprocess.run(["javac", "-nowarn", "--release", "11", "-cp", str(flink_dist), "-d", str(classes), *sources],
                   check=True)  # fmt: skip
    subprocess.run(["jar", "cf", str(JAR), "-C", str(classes), "."], check=True)


class Rest:
    """The mini-cluster's REST API, on the port it picked: the one of the JVM's loopback ports that
    answers /jobs."""

    def __init__(self) -> None:
        self.base = ""

    def find(self, job_id: str) -> bool:
        """Points at the cluster that runs this job; False while none of the JVM's ports has it yet."""
        listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
        jvms = {str(pid) for pid in _descendants(os.getpid())}
        for line in listening.splitlines():
            if not any(f"pid={pid}," in line for pid in jvms):
                continue
            port = line.split()[3].rsplit(":", 1)[1]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/jobs", timeout=2) as response:
                    jobs = json.loads(response.read())["jobs"]
            except (OSError, ValueError, KeyError, http.client.HTTPException):  # another of its ports
                continue
            if any(job["id"] == job_id for job in jobs):  # this job's cluster, not the one before
                self.base = f"http://127.0.0.1:{port}"
                return True
        return False

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=10) as response:
            return json.loads(response.read())

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.get(f"/jobs/{job_id}"))

    def latest_checkpoint(self, job_id: str) -> dict[str, Any] | None:
        try:
            completed = self.get(f"/jobs/{job_id}/checkpoints")["latest"]["completed"]
        except (OSError, KeyError):
            return None
        return dict(completed) if completed else None


def wait(condition: Callable[[], bool], seconds: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise SystemExit(f"bench: {what} did not happen within {seconds:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - started


def memory_bytes(gateway: Any) -> tuple[int, int]:
    """(JVM heap in use after a GC, resident memory of the Python workers) of the mini-cluster."""
    jvm = gateway.jvm
    jvm.java.lang.System.gc()
    time.sleep(1)
    heap = int(jvm.java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed())
    workers = 0
    for pid in _descendants(os.getpid()):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"pyflink" in command and b"java" not in command.split(b"\0")[0]:
            workers += next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
    return heap, workers


def start_job(sessions: int, rate: float, unlimited: int, checkpoints: Path, stats: Path,
              cache: int | None = None) -> tuple[Any, Any]:  # fmt: skip
    from pyflink.common import Configuration, Types, WatermarkStrategy
    from pyflink.datastream.connectors import Source
    from pyflink.datastream.functions import SinkFunction
    from pyflink.java_gateway import get_gateway

    from runtime.sessionizer.config import base_config
    from runtime.sessionizer.job import build, environment
    from runtime.sessionizer.package import CONNECTOR_JAR

    config = dataclasses.replace(
        base_config("bench", "us-east-1", "-", "-", "-"),
        parallelism=1,
        execution_mode="process",
        checkpoint_interval_ms=CHECKPOINT_INTERVAL_MS,
        checkpoint_dir=str(checkpoints),
    )
    if cache is not None:
        config = dataclasses.replace(config, state_cache_size=cache)
    settings = Configuration()
    settings.set_string("metrics.fetcher.update-interval", "1000")  # REST's metrics, fresh to a second
    env = environment(config, jar=CONNECTOR_JAR, settings=settings)
    env.add_jars(JAR.resolve().as_uri())
    gateway = get_gateway()
    jvm = gateway.jvm
    events = jvm.prism.bench.StateBenchEvents(sessions, HEARTBEAT_MS, ROUNDS_PER_SESSION)
    generator = jvm.org.apache.flink.connector.datagen.source.DataGeneratorSource(
        events, jvm.java.lang.Long.MAX_VALUE, jvm.prism.bench.PhasedRateLimiterStrategy(unlimited, float(rate)),
        Types.STRING().get_java_type_info(),
    )  # fmt: skip
    players = env.from_source(Source(generator), WatermarkStrategy.no_watermarks(), "players")
    session_records, late = build(players, config)
    session_records.add_sink(SinkFunction(jvm.prism.bench.LatencySink(events, str(stats))))
    late.add_sink(SinkFunction("org.apache.flink.streaming.api.functions.sink.DiscardingSink"))
    client = env.execute_async(f"state bench, {sessions} sessions")
    return client, gateway


def measure(sessions: int, rate: float, steady_seconds: int, cache: int | None = None) -> list[Figure]:
    workload = (f"{sessions:,} open sessions, heartbeats at {rate:,.0f} events/s for {steady_seconds} s, "
                f"parallelism 1, process mode, heap state, checkpoints every "
                f"{CHECKPOINT_INTERVAL_MS // 1000} s")  # fmt: skip
    if cache:
        workload += f", Python state cache {cache:,}"
    opening = sessions * 4
    work = Path(tempfile.mkdtemp(prefix="prism-state-bench-"))
    stats = work / "sink.json"
    rest = Rest()
    try:
        client, gateway = start_job(sessions, rate, opening, work / "checkpoints", stats, cache)
        job_id = str(client.get_job_id())
        heap_before, _ = memory_bytes(gateway)
        wait(lambda: rest.find(job_id), 120, "the mini-cluster's REST API")
        opened_in = wait(lambda: sink_stats(stats)["generated"] >= opening, 3_600, f"opening {sessions:,} sessions")
        print(f"{sessions:,} sessions: opened in {opened_in:.0f} s ({opening / opened_in:,.0f} events/s)", flush=True)
        # The opening's backlog drains and the first updates go out: the rate settles.
        settle = time.monotonic()  # measured from here even when the job never keeps up with the rate
        while not _steady(stats, rate) and time.monotonic() - settle < 120:
            pass
        with CpuMeter() as meter:
            sink_before = sink_stats(stats)
            time.sleep(steady_seconds)
            sink_after = sink_stats(stats)
        elapsed = (sink_after["wallMs"] - sink_before["wallMs"]) / 1000
        events = sink_after["generated"] - sink_before["generated"]
        records = sink_after["records"] - sink_before["records"]
        latencies = [after - before for after, before in zip(sink_after["histogram"], sink_before["histogram"],
                                                              strict=True)]  # fmt: skip
        p50, p99 = percentile_ms(latencies, 0.5), percentile_ms(latencies, 0.99)
        heap, workers = memory_bytes(gateway)
        checkpoint = rest.latest_checkpoint(job_id)
        wait(lambda: (rest.latest_checkpoint(job_id) or {}).get("id", 0) > (checkpoint or {}).get("id", 0), 240,
             "a checkpoint of the steady state")  # fmt: skip
        checkpoint = rest.latest_checkpoint(job_id) or {}
        client.cancel().result()
        sustained = events / elapsed
        per_cpu = events / meter.seconds
        heap_per_session = (heap - heap_before) / sessions
        per_session = (heap - heap_before + workers) / sessions
        size = int(checkpoint.get("checkpointed_size") or checkpoint.get("state_size") or 0)
        duration_ms = int(checkpoint.get("end_to_end_duration", 0))
        print(f"  steady: {sustained:,.0f} events/s of {rate:,.0f} asked, {per_cpu:,.0f} per CPU-second, "
              f"{records / elapsed:,.0f} session records/s, p50 {p50} ms p99 {p99} ms", flush=True)  # fmt: skip
        print(f"  memory: heap {(heap - heap_before) / 2**20:,.0f} MiB + Python workers {workers / 2**20:,.0f} MiB"
              f" = {per_session:,.0f} bytes per open session; checkpoint {size / 2**20:,.1f} MiB in "
              f"{duration_ms / 1000:.1f} s", flush=True)  # fmt: skip

        stats.unlink()  # the restored job's sink starts counting anew
        restarted = time.monotonic()
        client, gateway = start_job(sessions, rate, 0, work / "checkpoints", stats, cache)
        job_id = str(client.get_job_id())
        wait(lambda: rest.find(job_id), 120, "the restored job's REST API")
        running_in = wait(lambda: _running(rest, job_id), 600, "the restored job running")
        # Back at what it sustained before (which may be below the rate asked).
        wait(lambda: _steady(stats, min(rate, sustained), below=False), 900, "the restored job at its rate again")
        steady_in = time.monotonic() - restarted
        client.cancel().result()
        print(f"  restore: running after {running_in:.0f} s, at the rate again after {steady_in:.0f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    name = f"{sessions // 1000}k"
    return [
        Figure(f"state_{name}_sustained_events_per_second", round(sustained), "events/s sustained", workload),
        Figure(f"state_{name}_events_per_cpu_second", round(per_cpu), "events/s per CPU-second", workload),
        Figure(f"state_{name}_p50_ms", p50, "ms, event generated -> its session record out", workload),
        Figure(f"state_{name}_p99_ms", p99, "ms, event generated -> its session record out", workload),
        Figure(f"state_{name}_bytes_per_open_session", round(per_session),
               "bytes of memory per open session (heap and Python workers)", workload),
        Figure(f"state_{name}_heap_bytes_per_open_session", round(heap_per_session),
               "bytes of JVM heap per open session", workload),
        Figure(f"state_{name}_checkpoint_bytes_per_open_session", round(size / sessions),
               "bytes of checkpoint per open session", workload),
        Figure(f"state_{name}_checkpoint_mib", round(size / 2**20, 1), "MiB, newest completed checkpoint", workload),
        Figure(f"state_{name}_checkpoint_seconds", round(duration_ms / 1000, 1), "s, its duration", workload),
        Figure(f"state_{name}_restore_running_seconds", round(running_in), "s, restart -> running", workload),
        Figure(f"state_{name}_restore_steady_seconds", round(steady_in), "s, restart -> at the rate again", workload),
    ]  # fmt: skip


def _running(rest: Rest, job_id: str) -> bool:
    try:
        job = rest.job(job_id)
    except OSError:
        return False
    return job.get("state") == "RUNNING" and all(v.get("status") == "RUNNING" for v in job.get("vertices", []))


def _steady(stats: Path, rate: float, below: bool = True) -> bool:
    """Over the last 10 s the generator went at the rate, within 10 % (or at least 90 % of it when not
    `below`: a restored job catching up may go faster)."""
    before = sink_stats(stats)
    time.sleep(10)
    after = sink_stats(stats)
    seconds = (after["wallMs"] - before["wallMs"]) / 1000
    if seconds <= 0:
        return False
    achieved = (after["generated"] - before["generated"]) / seconds
    return achieved >= 0.9 * rate and (not below or achieved <= 1.1 * rate)


def sink_stats(path: Path) -> dict[str, Any]:
    """What the latency sink counted so far (it writes every second)."""
    if not path.exists():
        return {"wallMs": 0, "generated": 0, "records": 0, "histogram": [0] * 1_201}
    return dict(json.loads(path.read_text()))


def percentile_ms(histogram: list[int], share: float) -> int:
    """The latency below which this share of the records left, in the sink's 100 ms steps; -1 with none."""
    total = sum(histogram)
    if not total:
        return -1
    seen = 0
    for step, count in enumerate(histogram):
        seen += count
        if seen >= share * total:
            return (step + 1) * 100
    return len(histogram) * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rate", type=float, default=20_000, help="heartbeats per second in the steady phase")
    parser.add_argument("--steady-seconds", type=int, default=120)
    parser.add_argument("--state-cache-size", type=int, help="sessions a Python worker keeps deserialised "
                        "(python.state.cache.size; default: the job's)")  # fmt: skip
    add_reference_option(parser)
    args = parser.parse_args()
    # Python workers as processes of their own, as on Managed Flink: set before the first environment,
    # or the first job runs them inside this process (PyFlink's loopback mode), where CpuMeter, which
    # counts the mini-cluster's processes, would miss their CPU.
    os.environ[WORKER_MODE_VARIABLE] = "process"
    import pyflink

    build_jar(next((Path(pyflink.__file__).parent / "lib").glob("flink-dist-*.jar")))
    figures = [figure for sessions in args.sessions
               for figure in measure(sessions, args.rate, args.steady_seconds, args.state_cache_size)]  # fmt: skip
    if len(set(args.sessions)) > 1:
        figures.append(memory_per_added_session(figures, min(args.sessions), max(args.sessions)))
    record("sessionizer-state", figures, args.reference)


def memory_per_added_session(figures: list[Figure], fewer: int, more: int) -> Figure:
    """Memory per open session without what the job holds with none: the Python worker's interpreter
    and libraries are in each size's resident memory once, whatever the state."""

    def total(sessions: int) -> float:
        name = f"state_{sessions // 1000}k_bytes_per_open_session"
        return next(f.value for f in figures if f.name == name) * sessions

    added = (total(more) - total(fewer)) / (more - fewer)
    return Figure("state_added_bytes_per_open_session", round(added),
                  f"bytes of memory (heap and Python workers) per open session added, {fewer:,} -> {more:,}",
                  f"the {fewer:,} and {more:,} runs above")  # fmt: skip


if __name__ == "__main__":
    main()

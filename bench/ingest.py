"""Ingest benchmark: the real server on loopback, a fast local Kinesis endpoint, wrk as the load.

    make bench-ingest            (or: .venv/bin/python -m bench.ingest --seconds 10)

The server runs one worker pinned to core 0; wrk and the fast Kinesis endpoint
share core 1, so "per server core" is what one core of the service does. For 1 and
64 connections, single-event posts and 20-event batches of ~300-byte events, it
prints requests/s and events/s (and per second of server CPU), p50/p99 latency of
the acknowledgement, user records per Kinesis record and PutRecords calls per 10,000
events; then the same runs against a naive handler (one PutRecord per event) and the
ratio; then the ceiling: a bare endpoint on the same stack that only decodes the event
with msgspec (bench/bare_ingest.py), for single-event posts, and what share of it the
service reaches, measured in turns with the service (--ceiling-rounds, median of them).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx

from bench.results import Figure, add_reference_option, record
from runtime.ingest.settings import base_settings, environment
from runtime.local.processes import Started, free_port, start, wait_until

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def event_template(index: int) -> dict[str, object]:
    """An EPAS heartbeat that is ~300 bytes once the server has enriched it."""
    return {
        "event": "heartbeat",
        "sessionId": f"SESSIONID-{index:02d}-4000-8000-000000000000",
        "timestamp": int(time.time() * 1000),
        "playhead": 1234.5,
        "duration": 5400.0,
        "payload": {"bitrate": 4500, "cdn": "edge-7"},
    }


def wrk_script(directory: Path, events: int) -> Path:
    body = json.dumps(event_template(0) if events == 1 else [event_template(i) for i in range(events)])
    # Each request carries other sessions, so records spread over the shards as real traffic does.
    script = f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local template = [=[{body}]=]
local counter = 0
request = function()
  counter = counter + 1
  local session = string.format("%08d", counter % 100000)
  return wrk.format(nil, "/", nil, (string.gsub(template, "SESSIONID", session)))
end
"""
    path = directory / f"post-{events}.lua"
    path.write_text(script)
    return path


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def scrape(url: str) -> dict[str, float]:
    try:
        response = httpx.get(f"{url}/metrics", timeout=5)
    except httpx.HTTPError:
        return {}
    if response.status_code != 200:  # the naive baseline has no metrics
        return {}
    text = response.text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


@dataclass
class Result:
    server: str
    events_per_request: int
    connections: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_share: float
    user_records_per_record: float | None
    calls_per_10k_events: float | None
    errors: int
    peak_rss_mb: float  # the server process's resident memory at its highest so far

    @property
    def events_per_second(self) -> float:
        return self.requests_per_second * self.events_per_request


def _ms(text: str) -> float:
    """wrk's duration text (850.00us, 12.31ms, 1.20s, 1.01m) in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[match[2]]


def run_wrk(url: str, script: Path, connections: int, seconds: int) -> tuple[float, float, float, int]:
    output = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)[1])  # type: ignore[index]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non_2xx[1]) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return rps, p50, p99, errors


def measure(server: str, url: str, pid: int, script: Path, events: int, connections: int, seconds: int) -> Result:
    run_wrk(url, script, connections, 2)  # warm up
    before, cpu_before, started = scrape(url), cpu_seconds(pid), time.monotonic()
    rps, p50, p99, errors = run_wrk(url, script, connections, seconds)
    elapsed, cpu_used, after = time.monotonic() - started, cpu_seconds(pid) - cpu_before, scrape(url)

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    accepted = delta("ingest_events_accepted_total")
    records = delta("ingest_user_records_per_record_count")
    return Result(
        server=server,
        events_per_request=events,
        connections=connections,
        requests_per_second=rps,
        p50_ms=p50,
        p99_ms=p99,
        cpu_share=cpu_used / elapsed,
        user_records_per_record=delta("ingest_user_records_per_record_sum") / records if records else None,
        calls_per_10k_events=delta("ingest_put_records_calls_total") / accepted * 10_000 if accepted else None,
        errors=errors,
        peak_rss_mb=peak_rss_mb(pid),
    )


def peak_rss_mb(pid: int) -> float:
    """VmHWM of /proc/<pid>/status: the most memory the process has held resident."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_server(name: str, module_args: list[str], env: dict[str, str], logs: Path) -> tuple[Started, str]:
    port = free_port()
    started = start(
        name,
        ["taskset", "-c", "0", sys.executable, "-m", *module_args, "--host", "127.0.0.1", "--port", str(port)],
        env,
        cwd=ROOT,
        log_dir=logs,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{url}/health").status_code == 200, started, 30, name)
    return started, url


def main() -> int:
    parser = argparse.ArgumentParser(description="ingest benchmark (prints figures)")
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per run")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--linger-ms", default="5", help="the service's linger time in the run (its default is 5)")
    parser.add_argument("--shards", type=int, default=2, help="shards of the raw stream (datamart's raw has 2)")
    parser.add_argument("--ceiling-rounds", type=int, default=3, help="turns of the service and the bare endpoint")
    add_reference_option(parser)
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is needed (apt-get install wrk util-linux)", file=sys.stderr)
            return 2

    work = Path(tempfile.mkdtemp(prefix="prism-bench-"))
    kinesis_port = free_port()
    kinesis = start("fast-kinesis", ["taskset", "-c", "1", sys.executable, "-m", "bench.fast_kinesis",
                                     str(kinesis_port), str(args.shards)], {}, ROOT, work)  # fmt: skip
    service = dataclasses.replace(
        base_settings("bench-raw", "us-east-1"),
        kinesis_endpoint=f"http://127.0.0.1:{kinesis_port}",
        linger_ms=float(args.linger_ms),
    )
    env = {
        **environment(service),
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    uvicorn_args = ["--no-access-log", "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"]
    servers = {
        "prism": ["uvicorn", "--factory", "runtime.ingest.server:app_from_environment", *uvicorn_args],
        "naive": ["uvicorn", "--factory", "bench.naive_ingest:create_app", *uvicorn_args],
        "bare": ["uvicorn", "--factory", "bench.bare_ingest:create_app", *uvicorn_args],
    }
    results: list[Result] = []
    rounds: list[tuple[Result, Result]] = []  # (prism, bare), single events, measured one right after the other
    try:
        time.sleep(1)
        for name in ("prism", "naive"):
            server, url = start_server(name, servers[name], env, work)
            try:
                for events in (1, 20):
                    script = wrk_script(work, events)
                    for connections in args.connections:
                        result = measure(name, url, server.pid, script, events, connections, args.seconds)
                        results.append(result)
                        print(f"  measured {name} events/request={events} connections={connections}", flush=True)
            finally:
                server.stop()
        rounds = ceiling_rounds(servers, env, work, args)
    finally:
        kinesis.stop()

    print()
    print(f"ingest benchmark: {args.seconds} s per run, server 1 worker on core 0, wrk + fast Kinesis on core 1, "
          f"linger {args.linger_ms} ms, {args.shards} shards, ~300-byte events")  # fmt: skip
    header = (f"{'server':6} {'ev/req':>6} {'conns':>5} {'req/s':>9} {'events/s':>9} {'cpu':>5} {'req/s/core':>10} "
              f"{'p50 ms':>7} {'p99 ms':>7} {'recs/kin':>8} {'calls/10k':>9} {'errors':>6}")  # fmt: skip
    print(header)
    for r in results:
        per_core = r.requests_per_second / r.cpu_share if r.cpu_share else 0.0
        packing = f"{r.user_records_per_record:8.1f}" if r.user_records_per_record else f"{'1.0':>8}"
        calls = f"{r.calls_per_10k_events:9.1f}" if r.calls_per_10k_events else f"{'10000':>9}"
        print(f"{r.server:6} {r.events_per_request:6d} {r.connections:5d} {r.requests_per_second:9.0f} "
              f"{r.events_per_second:9.0f} {r.cpu_share:5.2f} {per_core:10.0f} {r.p50_ms:7.2f} {r.p99_ms:7.2f} "
              f"{packing} {calls} {r.errors:6d}")  # fmt: skip
    print()
    for events in (1, 20):
        for connections in args.connections:
            ours = next(
                r for r in results if (r.server, r.events_per_request, r.connections) == ("prism", events, connections)
            )
            naive = next(
                r for r in results if (r.server, r.events_per_request, r.connections) == ("naive", events, connections)
            )
            print(f"prism / naive, {events} event(s) per request, {connections} connections: "
                  f"{ours.events_per_second / naive.events_per_second:.1f}x events/s, "
                  f"p99 {ours.p99_ms:.1f} ms vs {naive.p99_ms:.1f} ms")  # fmt: skip
    print()
    for connections in args.connections:
        pairs = [(ours, bare) for ours, bare in rounds if ours.connections == connections]
        for number, (ours, bare) in enumerate(pairs, 1):
            ceiling = bare.requests_per_second
            print(f"prism / bare ceiling, single events, {connections} connections, round {number}: "
                  f"{ours.requests_per_second / ceiling:.0%} ({ours.requests_per_second:,.0f} of {ceiling:,.0f} req/s; "
                  f"per server core {ours.requests_per_second / ours.cpu_share:,.0f} vs "
                  f"{ceiling / bare.cpu_share:,.0f}), p99 {ours.p99_ms:.1f} ms vs {bare.p99_ms:.1f} ms")  # fmt: skip
        ratios = sorted(ours.requests_per_second / bare.requests_per_second for ours, bare in pairs)
        print(f"prism / bare ceiling, single events, {connections} connections: median {ratios[len(ratios) // 2]:.0%} "
              f"over {len(ratios)} rounds, worst p99 {max(ours.p99_ms for ours, _ in pairs):.1f} ms")  # fmt: skip
    record("ingest", ingest_figures(results, args), args.reference)
    return 0


def ingest_figures(results: list[Result], args: argparse.Namespace) -> list[Figure]:
    """The service's own figures per load: requests and events per server core, p99."""
    figures = []
    for r in (r for r in results if r.server == "prism" and r.cpu_share):
        load = f"{r.events_per_request}ev_{r.connections}conns"
        workload = (f"~300-byte events, {r.events_per_request} per request, {r.connections} connections, "
                    f"{args.seconds} s, 1 worker, fast Kinesis stand-in of {args.shards} shards")  # fmt: skip
        figures += [
            Figure(f"requests_per_core_{load}", round(r.requests_per_second / r.cpu_share),
                   "requests/s per server core", workload),
            Figure(f"events_per_core_{load}", round(r.events_per_second / r.cpu_share), "events/s per server core",
                   workload),
            Figure(f"p99_ms_{load}", round(r.p99_ms, 2), "ms", workload),
            Figure(f"events_per_kinesis_record_{load}", round(r.user_records_per_record or 1.0, 1),
                   "events per aggregated Kinesis record", workload),
            Figure(f"kinesis_shards_{load}", args.shards, "shards of the stand-in stream", workload),
            Figure(f"peak_rss_mb_{load}", round(r.peak_rss_mb, 1), "MiB resident, server process", workload),
        ]  # fmt: skip
    return figures


def ceiling_rounds(
    servers: dict[str, list[str]], env: dict[str, str], work: Path, args: argparse.Namespace
) -> list[tuple[Result, Result]]:
    """The service and the bare endpoint, both running, measured in turns: a machine whose
    speed drifts (a shared host's neighbours) moves both figures of a round alike."""
    prism, prism_url = start_server("prism", servers["prism"], env, work)
    bare, bare_url = start_server("bare", servers["bare"], env, work)
    script = wrk_script(work, 1)
    rounds: list[tuple[Result, Result]] = []
    try:
        for number in range(1, args.ceiling_rounds + 1):
            for connections in args.connections:
                ours = measure("prism", prism_url, prism.pid, script, 1, connections, args.seconds)
                ceiling = measure("bare", bare_url, bare.pid, script, 1, connections, args.seconds)
                rounds.append((ours, ceiling))
                print(f"  measured prism and bare, round {number}, connections={connections}", flush=True)
    finally:
        prism.stop()
        bare.stop()
    return rounds


if __name__ == "__main__":
    sys.exit(main())

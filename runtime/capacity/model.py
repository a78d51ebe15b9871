"""What N concurrent viewers need of each stage in each region, beside what the stack's settings give.

Every need is a measured figure (figures.py) scaled by the traffic profile (profile.py) and held
against AWS's per-unit limit (limits.py). A stage whose setting is below its need is a shortfall:
the program refuses the stack at preview (``shortfalls``), naming the stage, the need and the key.

Each region is sized for the whole peak when ``capacity.eachRegionCarriesPeak`` is true (the other
region can fail and the accelerator sends every player here), else for its share: players go to
the nearest region, which the model takes as an even split between the regions whose traffic dial
is above 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

from runtime.capacity import limits
from runtime.capacity.figures import Figures
from runtime.capacity.profile import TrafficProfile, traffic_profile
from runtime.names import StreamKind
from runtime.stack.model import RegionSettings, Settings, StreamSettings
from runtime.stack.session_store import InfluxDbSettings

# Session ids hash to shards evenly only on average, and retries come on top: a shard is
# sized to a fifth below its limit.
SHARD_FILL: Final = 0.8
# Managed Flink's own scaling adds KPUs at 75 % CPU; below 70 % the job also has room to
# catch up after a restart.
FLINK_CPU_TARGET: Final = 0.7
# A Lambda instance at 70 % of its measured rate leaves room for store latency spikes.
WRITER_TARGET: Final = 0.7
# The session store's CPU: InfluxDB also compacts and answers Grafana's queries.
STORE_CPU_TARGET: Final = 0.5
# A KPL aggregate carries, per event, its partition key (the session id, a UUID: 36 bytes) in
# the key table and about 12 bytes of protobuf framing (aws-kinesis-agg's record format).
KPL_BYTES_PER_EVENT: Final = 48
# A late record wraps the event with its reason, watermark, processing time and session id.
LATE_RECORD_EXTRA_BYTES: Final = 120
# The partition key the sessionizer's sink sends with each session or late record (the session id).
PARTITION_KEY_BYTES: Final = 36
# Firehose, and the sessionizer or the session writer: two shared-throughput consumers per stream.
CONSUMERS: Final[dict[StreamKind, int]] = {"raw": 2, "session": 2, "late": 1}
# The sessionizer's events per CPU-second with 1,000,000 sessions open.
STATE_FIGURE: Final = "state_1000k_events_per_cpu_second"
# The players' single-event POSTs (the EPAS web SDK sends one event per request), many connections.
INGEST_LOAD: Final = "1ev_64conns"


@dataclass(frozen=True)
class StageNeed:
    """One stage of one region: what the viewers need, in the unit of the setting beside it.

    A need is not rounded: 3.8 shards is carried by 4, and the headroom says how much is left."""

    region: str
    stage: str
    need: float
    setting: float | None  # None: the service scales by itself; the row is what it will be asked for
    unit: str
    key: str  # the stack setting a user edits to change `setting`; "-" when none sizes it
    basis: str  # how `need` follows from the figures
    sources: tuple[str, ...]

    @property
    def carried(self) -> bool:
        return self.setting is None or self.setting >= self.need

    @property
    def headroom(self) -> float | None:
        """Setting over need, less one: 0.25 is a quarter to spare, -0.5 half of the need missing."""
        if self.setting is None or self.need <= 0:
            return None
        return self.setting / self.need - 1


@dataclass(frozen=True)
class RegionLoad:
    """The traffic one region carries, per second."""

    region: RegionSettings
    viewers: float
    events: float
    requests: float
    raw_bytes: float
    raw_records: float
    session_records: float
    session_bytes: float
    late_records: float
    late_bytes: float

    def flows(self) -> dict[StreamKind, tuple[float, float]]:
        """Bytes/s and records/s into each of the region's streams."""
        return {
            "raw": (self.raw_bytes, self.raw_records),
            "session": (self.session_bytes, self.session_records),
            "late": (self.late_bytes, self.late_records),
        }


@dataclass
class CapacityModel:
    settings: Settings
    viewers: int  # the peak the stack is sized for
    profile: TrafficProfile
    loads: dict[str, RegionLoad] = field(default_factory=dict)  # what each region is sized for, by name
    needs: list[StageNeed] = field(default_factory=list)

    @property
    def shortfalls(self) -> list[StageNeed]:
        return [need for need in self.needs if not need.carried]


def region_shares(settings: Settings) -> dict[str, float]:
    """Each region's share of the audience in normal operation: even between regions that take traffic."""
    taking = [r for r in settings.regions if settings.edge.endpoints[r.role].traffic_dial > 0]
    return {r.name: (1 / len(taking) if r in taking else 0.0) for r in settings.regions}


def sized_viewers(settings: Settings, viewers: int) -> dict[str, float]:
    """What each region must carry: all of it when either region alone carries the peak."""
    if settings.capacity.each_region_carries_peak:
        return {r.name: float(viewers) for r in settings.regions}
    return {name: viewers * share for name, share in region_shares(settings).items()}


def region_load(settings: Settings, region: RegionSettings, viewers: float, profile: TrafficProfile,
                figures: Figures) -> RegionLoad:  # fmt: skip
    events = profile.events_per_second(viewers)
    # A task packs the events of one shard into one record per flush: spread over more shards than
    # the benchmark's stream had, each record holds proportionally fewer.
    packing = figures.value("ingest", f"events_per_kinesis_record_{INGEST_LOAD}")
    raw_shards = settings.streams["raw"].shards
    if raw_shards is not None:
        packing = max(1.0, packing * figures.value("ingest", f"kinesis_shards_{INGEST_LOAD}") / raw_shards)
    update_interval_s = settings.sessionizer.update_interval_ms / 1000
    # Every playing session changes each interval (its playing time grows), so it gets an update;
    # each session that ends gets its final record.
    session_records = viewers / update_interval_s + viewers * profile.sessions_per_viewer_minute / 60
    late_records = events * profile.too_late_share
    return RegionLoad(
        region=region,
        viewers=viewers,
        events=events,
        requests=events,
        raw_bytes=events * (profile.event_bytes + KPL_BYTES_PER_EVENT),
        raw_records=events / packing,
        session_records=session_records,
        session_bytes=session_records * (profile.session_record_bytes + PARTITION_KEY_BYTES),
        late_records=late_records,
        late_bytes=late_records * (profile.event_bytes + LATE_RECORD_EXTRA_BYTES + PARTITION_KEY_BYTES),
    )


def capacity_model(settings: Settings, viewers: int | None = None, figures: Figures | None = None) -> CapacityModel:
    """The needs of `viewers` (the stack's declared peak unless given) in every stage of both regions."""
    figures = figures or Figures()
    profile = traffic_profile(settings, figures)
    peak = viewers if viewers is not None else settings.capacity.peak_viewers
    model = CapacityModel(settings, peak, profile)
    for region in settings.regions:
        load = region_load(settings, region, sized_viewers(settings, peak)[region.name], profile, figures)
        model.loads[region.name] = load
        model.needs += [
            *ingest_needs(settings, load, figures),
            *stream_needs(settings, load),
            *delivery_needs(load),
            *sessionizer_needs(settings, load, profile, figures),
            *writer_needs(settings, load, figures),
            *store_needs(settings, load, figures),
        ]
    return model


def ingest_tasks(settings: Settings, requests_per_s: float, figures: Figures) -> float:
    """Tasks the requests need at the service's CPU target (the scaling policy's)."""
    ingest = settings.ingest
    per_core = figures.value("ingest", f"requests_per_core_{INGEST_LOAD}")
    return requests_per_s / (per_core * ingest.cpu / limits.CPU_UNITS_PER_VCPU.value * ingest.cpu_target_percent / 100)


def ingest_needs(settings: Settings, load: RegionLoad, figures: Figures) -> list[StageNeed]:
    ingest = settings.ingest
    task_vcpus = ingest.cpu / limits.CPU_UNITS_PER_VCPU.value
    per_core = figures.get("ingest", f"requests_per_core_{INGEST_LOAD}")
    target = ingest.cpu_target_percent / 100
    tasks = ingest_tasks(settings, load.requests, figures)
    rss = figures.get("ingest", f"peak_rss_mb_{INGEST_LOAD}")
    # A task's workers stay below the threshold of the stack's ingest-memory alarm.
    memory_target = settings.alerting.alarms["ingest-memory"].threshold / 100
    memory = rss.value * ingest.workers / memory_target
    name = load.region.name
    return [
        StageNeed(name, "ingest tasks", tasks, ingest.tasks.maximum, "tasks", "ingest.tasks.max",
                  f"{load.requests:,.0f} requests/s / ({per_core.value:,.0f} per vCPU x {task_vcpus:g} vCPU "
                  f"x {target:.0%} CPU target)", (per_core.source, limits.FARGATE_DOCS)),
        StageNeed(name, "ingest task memory", memory, ingest.memory_mb, "MiB", "ingest.memoryMb",
                  f"{ingest.workers} worker(s) x {rss.value:g} MiB peak resident / {memory_target:.0%}",
                  (rss.source,)),
    ]  # fmt: skip


def _shards_needed(bytes_per_s: float, records_per_s: float, consumers: int) -> float:
    write = max(bytes_per_s / limits.SHARD_WRITE_BYTES.value, records_per_s / limits.SHARD_WRITE_RECORDS.value)
    read = bytes_per_s * consumers / limits.SHARD_READ_BYTES.value
    return max(write, read) / SHARD_FILL


def stream_needs(settings: Settings, load: RegionLoad) -> list[StageNeed]:
    needs = []
    for kind, (bytes_per_s, records_per_s) in load.flows().items():
        stream: StreamSettings = settings.streams[kind]
        basis = (f"{bytes_per_s / limits.MIB:,.2f} MiB/s and {records_per_s:,.0f} records/s in, "
                 f"read by {CONSUMERS[kind]} consumer(s)")  # fmt: skip
        if stream.mode == "provisioned":
            shards = _shards_needed(bytes_per_s, records_per_s, CONSUMERS[kind])
            needs.append(StageNeed(load.region.name, f"{kind} stream", shards, stream.shards, "shards",
                                   f"streams.{kind}.shards", f"{basis}; a shard at most {SHARD_FILL:.0%} full",
                                   (limits.KINESIS_DOCS,)))  # fmt: skip
        else:
            needs.append(StageNeed(load.region.name, f"{kind} stream", bytes_per_s / limits.MIB,
                                   limits.ON_DEMAND_WRITE_BYTES.value / limits.MIB, "MiB/s written",
                                   f"streams.{kind}.mode", f"{basis}; on demand, up to the default maximum",
                                   (limits.KINESIS_DOCS,)))  # fmt: skip
    return needs


def delivery_needs(load: RegionLoad) -> list[StageNeed]:
    return [
        StageNeed(load.region.name, f"{kind} delivery", bytes_per_s / limits.MIB, None, "MiB/s", "-",
                  "what its stream carries", (limits.FIREHOSE_KINESIS_SOURCE.source,))
        for kind, (bytes_per_s, _) in load.flows().items()
    ]  # fmt: skip


def sessionizer_needs(settings: Settings, load: RegionLoad, profile: TrafficProfile,
                      figures: Figures) -> list[StageNeed]:  # fmt: skip
    sessionizer = settings.sessionizer
    measured_at = 1 if sessionizer.parallelism == 1 else 2
    small = figures.get("sessionizer", f"job_{sessionizer.execution_mode}_parallelism_{measured_at}"
                                       "_events_per_cpu_second")  # fmt: skip
    # The same job with a million sessions open (bench/sessionizer_state.py): what a real audience's
    # state costs per event. The lower of the two sizes the job.
    large = figures.get("sessionizer-state", STATE_FIGURE)
    rate = min(small, large, key=lambda figure: figure.value)
    kpus_needed = load.events / (rate.value * FLINK_CPU_TARGET)
    kpus = sessionizer.kpus
    # Open sessions, and for an hour after their end the tombstones (runtime/sessionizer/session.py).
    state_bytes = load.viewers * profile.open_session_state_bytes * (1 + 60 * profile.sessions_per_viewer_minute)
    name = load.region.name
    return [
        StageNeed(name, "sessionizer KPUs", kpus_needed, kpus, "KPUs",
                  "sessionizer.parallelism / sessionizer.parallelismPerKpu",
                  f"{load.events:,.0f} events/s / ({rate.value:,.0f} per vCPU x {FLINK_CPU_TARGET:.0%} CPU target)",
                  (small.source, large.source, limits.KPU.source)),
        StageNeed(name, "sessionizer state", state_bytes / 1024**3, kpus * limits.KPU_STORAGE_BYTES.value / 1024**3,
                  "GiB", "sessionizer.parallelism",
                  f"{load.viewers:,.0f} open sessions and an hour of tombstones x "
                  f"{profile.open_session_state_bytes:g} bytes", (profile.sources["open_session_state_bytes"],
                                                                  limits.KPU_STORAGE_BYTES.source)),
    ]  # fmt: skip


def writer_rate(settings: Settings, figures: Figures) -> tuple[float, tuple[str, ...]]:
    """Session records per second one writer instance takes: its CPU share, and the store's answer time."""
    store = settings.session_store
    cpu = figures.get("session-writer", "records_per_cpu_second")
    rate = cpu.value * min(1.0, store.memory_mb / limits.LAMBDA_MB_PER_VCPU.value)
    sources: tuple[str, ...] = (cpu.source, limits.LAMBDA_MB_PER_VCPU.source)
    if store.engine == "influxdb":
        wall = figures.get("session-writer", "influxdb_records_per_second_one_invocation")
        rate = min(rate, wall.value)
        sources += (wall.source,)
    return rate, sources


def writer_needs(settings: Settings, load: RegionLoad, figures: Figures) -> list[StageNeed]:
    store = settings.session_store
    rate, sources = writer_rate(settings, figures)
    needed = load.session_records / (rate * WRITER_TARGET)
    stream = settings.streams["session"]
    if stream.mode == "provisioned" and stream.shards is not None:
        batches = stream.shards * store.parallelization_factor
        concurrency = min(store.reserved_concurrency, batches)
        key = ("sessionStore.reservedConcurrency" if store.reserved_concurrency <= batches
               else "streams.session.shards x sessionStore.parallelizationFactor")  # fmt: skip
    else:
        concurrency, key = store.reserved_concurrency, "sessionStore.reservedConcurrency"
    return [
        StageNeed(load.region.name, "session writer concurrency", needed, concurrency, "instances", key,
                  f"{load.session_records:,.0f} session records/s / ({rate:,.0f} per instance x "
                  f"{WRITER_TARGET:.0%})", (*sources, limits.LAMBDA_BATCHES_PER_SHARD.source)),
    ]  # fmt: skip


def store_needs(settings: Settings, load: RegionLoad, figures: Figures) -> list[StageNeed]:
    store = settings.session_store
    name = load.region.name
    if isinstance(store.store, InfluxDbSettings):
        instance_type = store.store.instance_type
        per_cpu = figures.get("session-writer", "influxdb_records_per_server_cpu_second")
        vcpus = load.session_records / (per_cpu.value * STORE_CPU_TARGET)
        return [
            StageNeed(name, "session store vCPUs", vcpus, limits.INFLUX_VCPUS[instance_type], "vCPUs",
                      "sessionStore.influxdb.instanceType",
                      f"{load.session_records:,.0f} session records/s / ({per_cpu.value:,.0f} per server "
                      f"CPU-second x {STORE_CPU_TARGET:.0%})", (per_cpu.source, limits.INFLUX_DOCS)),
        ]  # fmt: skip
    writes = load.session_records * math.ceil((load.session_bytes / max(load.session_records, 1))
                                              / limits.TIMESTREAM_WRITE_BYTES.value)  # fmt: skip
    return [
        StageNeed(name, "session store writes", writes, None, "writes/s of 1 KB", "-",
                  "one metered write per KB of each session record; Timestream scales by itself",
                  (limits.TIMESTREAM_WRITE_BYTES.source,)),
    ]  # fmt: skip

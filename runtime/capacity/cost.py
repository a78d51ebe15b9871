"""The monthly cost of one region at list prices (prices.json), with the stack's own settings.

What a region costs in normal operation: capacity the stack provisions (shards, KPUs, the
InfluxDB instance, the ingest service's minimum) is paid whatever the traffic; what scales
with traffic (tasks above the minimum, GB through Firehose, writes, Lambda time) is priced
for the region's share of the viewers. Not counted: CloudWatch (metrics, alarms, logs,
dashboards), KMS, VPC endpoints or NAT gateways, Grafana, data transfer to the internet and
S3 storage beyond one month of data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from runtime.capacity import limits
from runtime.capacity.figures import Figures
from runtime.capacity.model import (
    CONSUMERS,
    CapacityModel,
    RegionLoad,
    ingest_tasks,
    region_load,
    region_shares,
    writer_rate,
)
from runtime.capacity.prices import HOURS_PER_MONTH, PriceTable
from runtime.names import StreamKind
from runtime.stack.model import RegionSettings, Settings
from runtime.stack.session_store import InfluxDbSettings

SECONDS_PER_MONTH: Final = HOURS_PER_MONTH * 3600
GB: Final = 1e9
# An HTTP/1.1 POST's request line and headers (origin, content type, EPAS headers, TLS framing) and
# its small JSON answer: what the load balancer and the accelerator carry beside the event itself.
HTTP_BYTES_PER_REQUEST: Final = 600
# Firehose meters each record it ingests rounded up to 5 KB (Firehose pricing).
FIREHOSE_RECORD_ROUNDING: Final = 5 * 1024
# The web ACL's rules (components/firewall.py): the rate limit and AWS's common rule set.
WAF_RULES: Final = 2


@dataclass(frozen=True)
class CostLine:
    item: str
    usd: float
    basis: str


@dataclass(frozen=True)
class RegionCost:
    region: str
    viewers: float  # the region's share of the audience the cost is for
    lines: tuple[CostLine, ...]

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)


def _ingest(settings: Settings, load: RegionLoad, sessions_per_viewer_minute: float, prices: PriceTable,
            figures: Figures) -> list[CostLine]:  # fmt: skip
    ingest = settings.ingest
    vcpus = ingest.cpu / limits.CPU_UNITS_PER_VCPU.value
    by_cpu = ingest_tasks(settings, load.requests, figures)
    by_requests = load.requests * 60 / ingest.requests_per_target  # ALBRequestCountPerTarget is per minute
    tasks = min(ingest.tasks.maximum, max(ingest.tasks.minimum, math.ceil(max(by_cpu, by_requests))))
    arch = ingest.cpu_architecture.lower()
    hourly = vcpus * prices[f"fargate_vcpu_hour_{arch}"] + ingest.memory_mb / 1024 * prices[f"fargate_gb_hour_{arch}"]
    http_gb_hour = load.requests * (HTTP_BYTES_PER_REQUEST + load.raw_bytes / max(load.requests, 1)) * 3600 / GB
    # An LCU is 1 GB processed an hour, or 25 new connections/s, or 3,000 active connections: players
    # keep one connection open for a session (their heartbeats come well within the idle timeout).
    lcus = max(http_gb_hour, load.viewers * sessions_per_viewer_minute / 60 / 25, load.viewers / 3_000)
    return [
        CostLine("ingest service (Fargate)", tasks * hourly * HOURS_PER_MONTH,
                 f"{tasks} tasks of {vcpus:g} vCPU, {ingest.memory_mb} MiB ({arch})"),
        CostLine("load balancer", (prices["alb_hour"] + lcus * prices["alb_lcu_hour"]) * HOURS_PER_MONTH,
                 f"{lcus:,.1f} LCUs"),
        CostLine("web ACL", prices["waf_web_acl_month"] + WAF_RULES * prices["waf_rule_month"]
                 + load.requests * SECONDS_PER_MONTH / 1e6 * prices["waf_million_requests"],
                 f"{load.requests * SECONDS_PER_MONTH / 1e6:,.0f} million requests"),
        CostLine("accelerator transfer premium", http_gb_hour * HOURS_PER_MONTH * prices["accelerator_premium_gb"],
                 f"{http_gb_hour * HOURS_PER_MONTH:,.0f} GB"),
    ]  # fmt: skip


def _stream(settings: Settings, kind: StreamKind, bytes_per_s: float, records_per_s: float, consumers: int,
            prices: PriceTable) -> CostLine:  # fmt: skip
    stream = settings.streams[kind]
    if stream.mode == "provisioned" and stream.shards is not None:
        record_bytes = bytes_per_s / records_per_s if records_per_s else 0
        units = records_per_s * max(1, math.ceil(record_bytes / limits.PUT_PAYLOAD_UNIT_BYTES.value))
        hourly = stream.shards * prices["kinesis_shard_hour"]
        if stream.retention_hours > 24:
            hourly += stream.shards * prices["kinesis_extended_retention_shard_hour"]
        usd = hourly * HOURS_PER_MONTH + units * SECONDS_PER_MONTH / 1e6 * prices["kinesis_put_units_million"]
        return CostLine(f"{kind} stream", usd, f"{stream.shards} shards, {stream.retention_hours} h retention")
    rounded = records_per_s * 1024 * max(1, math.ceil(bytes_per_s / max(records_per_s, 1e-9) / 1024))
    written_gb = rounded * SECONDS_PER_MONTH / GB
    usd = (prices["kinesis_on_demand_stream_hour"] * HOURS_PER_MONTH
           + written_gb * prices["kinesis_on_demand_gb_written"]
           + written_gb * consumers * prices["kinesis_on_demand_gb_read"])  # fmt: skip
    return CostLine(f"{kind} stream", usd, f"on demand, {written_gb:,.0f} GB written")


def _store(settings: Settings, load: RegionLoad, prices: PriceTable) -> CostLine:
    store = settings.session_store
    if isinstance(store.store, InfluxDbSettings):
        influx = store.store
        instance_type = influx.instance_type
        copies = 2 if influx.deployment_type == "WITH_MULTIAZ_STANDBY" else 1
        hourly = limits.INFLUX_VCPUS[instance_type] * prices["influxdb_vcpu_hour"] * copies
        storage = influx.allocated_storage_gb * copies * prices["influxdb_storage_gb_month"]
        return CostLine("session store (InfluxDB)", hourly * HOURS_PER_MONTH + storage,
                        f"{instance_type} x {copies}, {influx.allocated_storage_gb} GB")  # fmt: skip
    record_kb = max(1, math.ceil(load.session_bytes / max(load.session_records, 1) / 1024))
    writes = load.session_records * record_kb * SECONDS_PER_MONTH
    memory_hours = store.store.memory_retention_hours  # LiveAnalytics
    memory_gb = load.session_bytes * memory_hours * 3600 / GB
    month_gb = load.session_bytes * SECONDS_PER_MONTH / GB
    usd = (writes / 1e6 * prices["timestream_million_writes"] + memory_gb * prices["timestream_memory_gb_hour"]
           * HOURS_PER_MONTH + month_gb * prices["timestream_magnetic_gb_month"])  # fmt: skip
    return CostLine("session store (Timestream)", usd, f"{writes / 1e6:,.0f} million writes")


def region_cost(settings: Settings, region: RegionSettings, model: CapacityModel, prices: PriceTable,
                figures: Figures, viewers: float) -> RegionCost:  # fmt: skip
    load = region_load(settings, region, viewers, model.profile, figures)
    profile = model.profile
    lines = _ingest(settings, load, profile.sessions_per_viewer_minute, prices, figures)
    flows = load.flows()
    lines += [_stream(settings, kind, *flow, CONSUMERS[kind], prices) for kind, flow in flows.items()]
    delivered_gb = sum(records * max(FIREHOSE_RECORD_ROUNDING, bytes_ / max(records, 1e-9))
                       for bytes_, records in flows.values()) * SECONDS_PER_MONTH / GB  # fmt: skip
    lines.append(CostLine("Firehose deliveries", delivered_gb * prices["firehose_gb"], f"{delivered_gb:,.0f} GB"))
    kpus = settings.sessionizer.kpus
    storage_gb = limits.KPU_STORAGE_BYTES.value / 1024**3  # 50 GB a KPU
    lines.append(CostLine("sessionizer (Managed Flink)", (kpus + 1) * prices["flink_kpu_hour"] * HOURS_PER_MONTH
                          + kpus * storage_gb * prices["flink_running_storage_gb_month"],
                          f"{kpus} KPUs and one for orchestration"))  # fmt: skip
    store = settings.session_store
    rate, _ = writer_rate(settings, figures)
    invocations = load.session_records / store.batch_size * SECONDS_PER_MONTH
    gb_seconds = load.session_records / rate * store.memory_mb / 1024 * SECONDS_PER_MONTH
    lines.append(CostLine("session writer (Lambda)", gb_seconds * prices["lambda_gb_second_arm64"]
                          + invocations / 1e6 * prices["lambda_million_requests"],
                          f"{gb_seconds / 1e6:,.1f} million GB-s"))  # fmt: skip
    lines.append(_store(settings, load, prices))
    stored_gb = (load.raw_bytes * profile.raw_gzip_ratio + load.session_bytes * profile.session_gzip_ratio
                 + load.late_bytes * profile.raw_gzip_ratio) * SECONDS_PER_MONTH / GB  # fmt: skip
    replication = prices["s3_replication_transfer_gb"]
    if settings.replication.time_control:
        replication += prices["s3_replication_time_control_gb"]
    lines.append(CostLine("buckets: a month of data and its replica", stored_gb * 2 * prices["s3_standard_gb_month"]
                          + stored_gb * replication, f"{stored_gb:,.0f} GB compressed"))  # fmt: skip
    if region == settings.primary:
        lines.append(CostLine("accelerator", prices["accelerator_hour"] * HOURS_PER_MONTH, "one per stack"))
    return RegionCost(region.name, viewers, tuple(lines))


def monthly_costs(model: CapacityModel, prices: PriceTable, figures: Figures | None = None) -> list[RegionCost]:
    """Each region carrying its share of the model's viewers all month."""
    figures = figures or Figures()
    shares = region_shares(model.settings)
    return [region_cost(model.settings, region, model, prices, figures, model.viewers * shares[region.name])
            for region in model.settings.regions]  # fmt: skip


def per_thousand_viewer_hours(costs: list[RegionCost]) -> float:
    viewers = sum(cost.viewers for cost in costs)
    return sum(cost.total for cost in costs) / (viewers * HOURS_PER_MONTH / 1000) if viewers else 0.0

"""AWS's per-unit limits the capacity model sizes against, each with where AWS documents it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Limit:
    value: float
    unit: str
    source: str


MIB: Final = 1_048_576

KINESIS_DOCS: Final = "Kinesis Data Streams developer guide, Quotas and limits"
SHARD_WRITE_BYTES: Final = Limit(1 * MIB, "bytes/s written per shard", KINESIS_DOCS)
SHARD_WRITE_RECORDS: Final = Limit(1_000, "records/s written per shard", KINESIS_DOCS)
# Shared-throughput consumers (Firehose, the Flink connector's polling consumer, a Lambda event
# source) split one shard's read throughput between them.
SHARD_READ_BYTES: Final = Limit(2 * MIB, "bytes/s read per shard, all shared consumers together", KINESIS_DOCS)
ON_DEMAND_WRITE_BYTES: Final = Limit(200 * MIB, "bytes/s written per on-demand stream (default maximum)",
                                     KINESIS_DOCS)  # fmt: skip
ON_DEMAND_WRITE_RECORDS: Final = Limit(200_000, "records/s written per on-demand stream (default maximum)",
                                       KINESIS_DOCS)  # fmt: skip
PUT_PAYLOAD_UNIT_BYTES: Final = Limit(25 * 1024, "bytes per PUT payload unit", "Kinesis Data Streams pricing")

FARGATE_DOCS: Final = "Amazon ECS developer guide, task CPU and memory (Fargate)"
CPU_UNITS_PER_VCPU: Final = Limit(1_024, "CPU units per vCPU", FARGATE_DOCS)

KPU: Final = Limit(1, "vCPU per KPU (and 4 GB of memory, 50 GB of running storage)",
                   "Managed Service for Apache Flink developer guide, Application scaling")  # fmt: skip
KPU_STORAGE_BYTES: Final = Limit(50 * 1024**3, "bytes of running application storage per KPU",
                                 "Managed Service for Apache Flink developer guide, Application scaling")  # fmt: skip

LAMBDA_MB_PER_VCPU: Final = Limit(1_769, "MB of function memory per vCPU",
                                  "Lambda developer guide, Configuring function memory")  # fmt: skip
# A Kinesis event source runs at most one batch per shard times the parallelization factor at once.
LAMBDA_BATCHES_PER_SHARD: Final = Limit(1, "concurrent batches per shard and parallelization factor",
                                        "Lambda developer guide, Using Lambda with Kinesis Data Streams")  # fmt: skip

FIREHOSE_KINESIS_SOURCE: Final = Limit(0, "no throughput quota: a Kinesis-sourced stream scales with its source",
                                       "Amazon Data Firehose developer guide, Quota")  # fmt: skip

TIMESTREAM_WRITE_BYTES: Final = Limit(1_024, "bytes per metered write", "Timestream pricing, Writes")
# Timestream for InfluxDB instance classes: vCPUs (developer guide, Supported instance types).
INFLUX_VCPUS: Final = {
    "db.influx.medium": 1, "db.influx.large": 2, "db.influx.xlarge": 4, "db.influx.2xlarge": 8,
    "db.influx.4xlarge": 16, "db.influx.8xlarge": 32, "db.influx.12xlarge": 48, "db.influx.16xlarge": 64,
}  # fmt: skip
INFLUX_DOCS: Final = "Timestream developer guide, Timestream for InfluxDB supported instance types"

S3_DOCS: Final = "S3 user guide, Replication Time Control"

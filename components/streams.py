"""The Kinesis streams of a region: raw events, session records, late events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.support.refs import Ref
from components.support.region import Region
from runtime.names import STREAM_KINDS, StreamKind
from runtime.stack import StreamSettings


@dataclass(frozen=True)
class StreamsArgs:
    environment: str
    region: Region
    key_arn: pulumi.Input[str]
    streams: Mapping[StreamKind, StreamSettings]


class Streams(pulumi.ComponentResource):
    streams: Mapping[StreamKind, aws.kinesis.Stream]

    def __init__(self, name: str, args: StreamsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:streams:Streams", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def stream(kind: StreamKind) -> aws.kinesis.Stream:
            settings = args.streams[kind]
            provisioned = settings.mode == "provisioned"
            return aws.kinesis.Stream(
                f"{name}-{kind}",
                aws.kinesis.StreamArgs(
                    name=args.region.names.stream(kind),
                    stream_mode_details=aws.kinesis.StreamStreamModeDetailsArgs(
                        stream_mode="PROVISIONED" if provisioned else "ON_DEMAND"
                    ),
                    shard_count=settings.shards if provisioned else None,
                    retention_period=settings.retention_hours,
                    encryption_type="KMS",
                    kms_key_id=args.key_arn,
                    # Per-shard metrics show a hot partition key (one busy session).
                    shard_level_metrics=[
                        "IncomingRecords",
                        "IteratorAgeMilliseconds",
                        "WriteProvisionedThroughputExceeded",
                    ],
                ),
                child,
            )

        self.streams = {kind: stream(kind) for kind in STREAM_KINDS}
        self.register_outputs({f"{kind}_arn": s.arn for kind, s in self.streams.items()})

    def ref(self, kind: StreamKind) -> Ref:
        return Ref(self.streams[kind].name, self.streams[kind].arn)

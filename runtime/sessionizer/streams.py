"""The job's Kinesis ends: the raw stream it reads and the session and late streams it writes."""

from __future__ import annotations

from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream.connectors.kinesis import FlinkKinesisConsumer, KinesisStreamsSink, PartitionKeyGenerator
from pyflink.java_gateway import get_gateway

from runtime.sessionizer.config import SessionizerConfig


def _aws_properties(config: SessionizerConfig) -> dict[str, str]:
    properties = {"aws.region": config.region}
    if config.kinesis_endpoint:
        # A local stand-in: any credentials, plain HTTP/1.1.
        properties.update(
            {
                "aws.endpoint": config.kinesis_endpoint,  # the connector's own key
                "aws.credentials.provider": "BASIC",
                "aws.credentials.provider.basic.accesskeyid": "local",
                "aws.credentials.provider.basic.secretkey": "local",
                "aws.http.protocol.version": "HTTP1_1",
                "aws.trust.all.certificates": "true",
            }
        )
    return properties


def kinesis_source(config: SessionizerConfig) -> FlinkKinesisConsumer:
    properties = {
        **_aws_properties(config),
        "flink.stream.initpos": config.initial_position,
        # An idle shard must not hold back the watermark of the others.
        "flink.shard.idle.interval": str(max(1_000, config.out_of_orderness_ms)),
    }
    # Each record as text behind the id of its shard (ShardTaggedStrings): ParsedEvents judges lateness per shard.
    shard_tagged = get_gateway().jvm.prism.sessionizer.ShardTaggedStrings()
    return FlinkKinesisConsumer(config.raw_stream, shard_tagged, properties)


def kinesis_sink(stream: str, config: SessionizerConfig) -> KinesisStreamsSink:
    generator = get_gateway().jvm.prism.sessionizer.SessionIdPartitionKeyGenerator()
    return (
        KinesisStreamsSink.builder()
        .set_kinesis_client_properties(_aws_properties(config))
        .set_serialization_schema(SimpleStringSchema())
        .set_partition_key_generator(PartitionKeyGenerator(generator))
        .set_stream_name(stream)
        .set_fail_on_error(False)  # retry refused records instead of failing the job
        .set_max_time_in_buffer_ms(config.sink_max_buffer_ms)
        .build()
    )

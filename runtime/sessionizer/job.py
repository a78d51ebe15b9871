"""The PyFlink job: raw stream -> sessions (session stream) and late events (late stream).

A thin adapter around session.py. Wiring:

    FlinkKinesisConsumer(raw)            de-aggregates the ingest service's KPL records
      -> parse: (sessionId, event time, arrival time, the watermark of its shard, raw JSON)
         (ParsedEvents in the connector jar: why per shard, and why in Java, is said there)
      -> event-time watermarks, bounded out-of-orderness, advancing with the clock when quiet
         and caught up (IdleAdvancingWatermarks in the connector jar; timestamps assigned in Java)
      -> key by sessionId (KeyedEvents in the connector jar, keyed as PyFlink keys a stream)
      -> SessionFunction (KeyedProcessFunction: the Tracker in keyed state, timers), the one
         Python operator: everything before it runs in the JVM
           main output: session records      -> KinesisStreamsSink(session)
           side output: late events          -> KinesisStreamsSink(late)

Both sinks use the session id as partition key (SessionIdPartitionKeyGenerator, built
into the connector jar by runtime/sessionizer/connector). Each event seals what Flink's
watermark has passed. Timers: an event-time timer when the horizon can end the session
(past a pending stopped/error, or past the newest event by the inactivity gap) finalises
it; a processing-time timer every update interval emits an update record of an active
session that changed.
"""

from __future__ import annotations

import json
import os
import site
import sys
import time
from pathlib import Path
from typing import Any

from pyflink.common import Configuration, Types, WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream import (
    CheckpointingMode,
    DataStream,
    KeyedProcessFunction,
    KeyedStream,
    OutputTag,
    RuntimeContext,
    StreamExecutionEnvironment,
    TimeDomain,
)
from pyflink.datastream.connectors.kinesis import FlinkKinesisConsumer, KinesisStreamsSink, PartitionKeyGenerator
from pyflink.datastream.state import ValueStateDescriptor
from pyflink.java_gateway import get_gateway

from runtime.sessionizer.checkpoints import checkpoint_options
from runtime.sessionizer.config import (
    JAR_VARIABLE,
    MANAGED_FLINK_PROPERTIES,
    SessionizerConfig,
    load_config,
    session_settings,
)
from runtime.sessionizer.metrics import (
    LATE_EVENTS_METRIC,
    LATE_REASON_DIMENSION,
    LATE_REASONS,
    MANAGED_FLINK_METRIC_GROUP,
    LateReason,
)
from runtime.sessionizer.playback import Event
from runtime.sessionizer.session import NO_WATERMARK, SessionSettings, Tracker, late_record, next_update_time

LATE_EVENTS = OutputTag("late-events", Types.STRING())
# The key of raw records that are not JSON events, as ParsedEvents (connector jar) gives it; tests/flink checks.
UNPARSEABLE = ""
# ParsedEvents' record (sessionId, event time, arrival time, shard watermark, raw); its Java type.
_RECORD = Types.TUPLE([Types.STRING(), Types.LONG(), Types.LONG(), Types.LONG(), Types.STRING()])
ParsedEvent = tuple[str, int, int, int, str]


def _dumps(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))


class SessionFunction(KeyedProcessFunction):  # type: ignore[misc]
    def __init__(self, settings: SessionSettings) -> None:
        self.settings = settings

    def open(self, runtime_context: RuntimeContext) -> None:
        # One value per session: every state access crosses from Python to the JVM.
        self.tracker_state = runtime_context.get_state(ValueStateDescriptor("tracker", Types.PICKLED_BYTE_ARRAY()))

        # Late events by reason, as Flink counters that Managed Flink publishes to CloudWatch.
        group = runtime_context.get_metrics_group().add_group(MANAGED_FLINK_METRIC_GROUP)
        self.late_counters = {
            reason: group.add_group(LATE_REASON_DIMENSION, reason).counter(LATE_EVENTS_METRIC)
            for reason in LATE_REASONS
        }

    def _late(self, reason: LateReason, watermark: int, session_id: str | None, raw: Any) -> tuple[OutputTag, str]:
        self.late_counters[reason].inc()
        return LATE_EVENTS, _dumps(late_record(reason, watermark, _now_ms(), session_id, raw))

    def process_element(self, value: ParsedEvent, ctx: KeyedProcessFunction.Context) -> Any:
        session_id, _, _, shard_watermark, raw = value
        timers = ctx.timer_service()
        watermark = max(timers.current_watermark(), shard_watermark)
        if session_id == UNPARSEABLE:
            yield self._late("unparseable", watermark, None, raw)
            return
        document = json.loads(raw)
        tracker: Tracker | None = self.tracker_state.value()
        if tracker is None:
            tracker = Tracker(session_id)
        late = tracker.accept(Event.from_raw(document), watermark, self.settings)
        if late is not None:
            yield self._late(late, watermark, session_id, document)
            return
        # Seals what Flink's watermark has passed, as a timer at this watermark would: the session's
        # events are sealed as they come, and its only event-time timer is the one for its end.
        if tracker.advance(timers.current_watermark(), self.settings):
            yield self._final(tracker, timers)
            self.tracker_state.update(tracker)
            return
        now = timers.current_processing_time()
        tracker.forget_lost_timers(now, timers.current_watermark(), self.settings)
        self._schedule_end_check(tracker, timers)
        if tracker.update_timer_ms is None:
            tracker.update_timer_ms = next_update_time(now, self.settings)
            timers.register_processing_time_timer(tracker.update_timer_ms)
        self.tracker_state.update(tracker)

    def _schedule_end_check(self, tracker: Tracker, timers: Any) -> None:
        """An event-time timer for when the session can end, unless an earlier one is already set:
        one that fires early finds the session going on and sets the next."""
        end_check = tracker.end_check_time(self.settings)
        if end_check is not None and (tracker.seal_timer_ms is None or end_check < tracker.seal_timer_ms):
            timers.register_event_time_timer(end_check)
            tracker.seal_timer_ms = end_check

    def _final(self, tracker: Tracker, timers: Any) -> str:
        """The final record of a session that just ended; its state becomes a tombstone with a timer
        to clear it."""
        record = _dumps(tracker.record(self.settings))
        tracker.to_tombstone()
        tracker.seal_timer_ms = (tracker.finalised_at_ms or 0) + self.settings.tombstone_ms
        timers.register_event_time_timer(tracker.seal_timer_ms)
        return record

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Any:
        tracker: Tracker | None = self.tracker_state.value()
        if tracker is None:
            return
        timers = ctx.timer_service()
        if ctx.time_domain() == TimeDomain.PROCESSING_TIME:
            tracker.update_timer_ms = None
            if not tracker.final:  # updates stop with the final record
                if tracker.changed:
                    yield _dumps(tracker.record(self.settings))
                tracker.update_timer_ms = timestamp + self.settings.update_interval_ms
                timers.register_processing_time_timer(tracker.update_timer_ms)
                # Update timers run until the final, also in a session no event comes to any
                # more: they set again a seal timer that was lost (forget_lost_timers).
                tracker.forget_lost_timers(timestamp, timers.current_watermark(), self.settings)
                self._schedule_end_check(tracker, timers)
            self.tracker_state.update(tracker)
            return

        if tracker.seal_timer_ms is not None and timestamp >= tracker.seal_timer_ms:
            tracker.seal_timer_ms = None  # timers fire in order: the earliest one set is this one
        if tracker.final:  # the tombstone's time is up
            if tracker.finalised_at_ms is None or timestamp >= tracker.finalised_at_ms + self.settings.tombstone_ms:
                self.tracker_state.clear()
            return
        if tracker.advance(timers.current_watermark(), self.settings):
            yield self._final(tracker, timers)
        else:
            self._schedule_end_check(tracker, timers)
        self.tracker_state.update(tracker)


def _now_ms() -> int:
    return int(time.time() * 1000)


def watermark_strategy(config: SessionizerConfig) -> WatermarkStrategy:
    """Bounded out-of-orderness that advances with the clock once the input is quiet and the
    reader caught up (connector jar); event times are taken from ParsedEvents' records in Java."""
    java = get_gateway().jvm.prism.sessionizer.IdleAdvancingWatermarks
    return WatermarkStrategy(
        java.forParsedEvents(config.out_of_orderness_ms, config.idle_advance_after_ms, config.caught_up_lag_ms)
    )


def build(raw_events: DataStream, config: SessionizerConfig) -> tuple[DataStream, DataStream]:
    """Sessions and late events from a stream of raw event JSON strings."""
    gateway = get_gateway()
    jar = gateway.jvm.prism.sessionizer
    parsed = (
        raw_events._j_data_stream.map(jar.ParsedEvents(config.out_of_orderness_ms), jar.ParsedEvents.TYPE)
        .name("parse")
        .assignTimestampsAndWatermarks(watermark_strategy(config)._j_watermark_strategy)
    )
    # Keyed as DataStream.key_by keys a stream (a Row of the key and the record, keyed by its
    # first field), only without its Python step.
    keyed = (
        parsed.map(jar.KeyedEvents(), jar.KeyedEvents.TYPE)
        .name("key by session")
        .keyBy(gateway.jvm.KeyByKeySelector(), Types.ROW([Types.STRING()]).get_java_type_info())
    )
    sessions = (
        KeyedStream(keyed, _RECORD, DataStream(parsed))
        .process(SessionFunction(session_settings(config)), output_type=Types.STRING())
        .name("sessions")
        .uid("sessions")
    )
    return sessions, sessions.get_side_output(LATE_EVENTS)


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


def environment(
    config: SessionizerConfig, jar: Path | None, settings: Configuration | None = None
) -> StreamExecutionEnvironment:
    """The job's environment; ``settings`` are Flink options to start from."""
    settings = settings or Configuration()
    settings.set_string("python.execution-mode", config.execution_mode)
    settings.set_string("python.fn-execution.bundle.size", str(config.bundle_size))
    settings.set_string("python.state.cache-size", str(config.state_cache_size))
    settings.set_string("python.fn-execution.bundle.time", str(config.bundle_time_ms))
    if config.checkpoint_dir is not None:
        for key, value in checkpoint_options(Path(config.checkpoint_dir)).items():
            settings.set_string(key, value)
    if config.rest_port is not None:
        settings.set_string("rest.bind-address", "127.0.0.1")
        settings.set_string("rest.address", "127.0.0.1")
        settings.set_string("rest.port", str(config.rest_port))
    if not MANAGED_FLINK_PROPERTIES.exists():
        use_this_interpreter(settings)
    env = StreamExecutionEnvironment.get_execution_environment(settings)
    env.get_config().set_auto_watermark_interval(200)
    env.enable_checkpointing(config.checkpoint_interval_ms, CheckpointingMode.EXACTLY_ONCE)
    if config.parallelism:
        env.set_parallelism(config.parallelism)
    if jar is not None:
        env.add_jars(jar.resolve().as_uri())
    return env


def use_this_interpreter(settings: Configuration) -> None:
    """Locally, Python workers must run this interpreter with its packages, not `python` on PATH.

    In thread mode the interpreter is embedded in the JVM (pemja) and sees only the base
    installation's packages unless the worker's PYTHONPATH names this environment's and
    this project's.
    """
    settings.set_string("python.executable", sys.executable)
    settings.set_string("python.client.executable", sys.executable)
    paths = [*site.getsitepackages(), str(Path(__file__).resolve().parents[2])]
    settings.set_string("python.pythonpath", os.pathsep.join(paths))


def main() -> None:
    config = load_config()
    jar_path = os.environ.get(JAR_VARIABLE)
    env = environment(config, Path(jar_path) if jar_path else None)
    raw = env.add_source(kinesis_source(config)).name("raw stream").uid("raw-stream")
    sessions, late = build(raw, config)
    sessions.sink_to(kinesis_sink(config.session_stream, config)).name("session stream").uid("session-stream")
    late.sink_to(kinesis_sink(config.late_stream, config)).name("late stream").uid("late-stream")
    env.execute(f"prism-sessionizer-{config.environment}-{config.region}")


if __name__ == "__main__":
    main()


__all__ = ["NO_WATERMARK", "build", "main"]

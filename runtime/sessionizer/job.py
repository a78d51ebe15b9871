"""The PyFlink job: raw stream -> sessions (session stream) and late events (late stream).

A thin adapter around session.py. Wiring:

    FlinkKinesisConsumer(raw)            de-aggregates the ingest service's KPL records
      -> parse: (sessionId, event time, arrival time, the watermark of its shard, raw JSON)
         (ParsedEvents in the connector jar: why per shard, and why in Java, is said there)
      -> event-time watermarks, bounded out-of-orderness, advancing with the clock when quiet
         and caught up (IdleAdvancingWatermarks in the connector jar; timestamps assigned in Java)
      -> batches of the events of a bucket of sessions (SessionBatches in the connector jar),
         keyed by bucket as PyFlink keys a stream
      -> SessionFunction (KeyedProcessFunction, a batch per call: the bucket's Trackers in map
         state, timers), the one Python operator: everything before it runs in the JVM
           main output: session records      -> KinesisStreamsSink(session)
           side output: late events          -> KinesisStreamsSink(late)

Both sinks use the session id as partition key (SessionIdPartitionKeyGenerator, built
into the connector jar by runtime/sessionizer/connector). Each event seals what Flink's
watermark has passed. Timers, per bucket: an event-time timer at each time the horizon can
end one of its sessions (past a pending stopped/error, or past the newest event by the
inactivity gap) finalises those that ended. A session's update record goes out with the event
that changes it when its last record is an update interval old; otherwise a processing-time
timer every update interval emits one for each open session that changed since its last record.

Why batches: every record that crosses from the JVM to Python and back costs more than the
session logic itself (bench/sessionizer.py), and a live session has about one event per
watermark interval, so batching by session saves nothing: batches are made across sessions.
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
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor
from pyflink.java_gateway import get_gateway

from runtime.sessionizer import state_layout as layout
from runtime.sessionizer import stored
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
from runtime.sessionizer.streams import kinesis_sink, kinesis_source

LATE_EVENTS = OutputTag("late-events", Types.STRING())
# The key of raw records that are not JSON events, as ParsedEvents (connector jar) gives it; tests/flink checks.
UNPARSEABLE = ""
# SessionBatches' batch: the session ids, shard watermarks and raw texts of its events; its Java type.
_BATCH = Types.TUPLE([Types.LIST(Types.STRING()), Types.PRIMITIVE_ARRAY(Types.LONG()), Types.LIST(Types.STRING())])
Batch = tuple[list[str], list[int], list[str]]
# layout.SESSION_BUCKETS: more buckets than Flink's 128 key groups, so subtasks get similar
# shares; few enough that a batch holds several events per watermark interval (bench/sessionizer.py
# over 128, 256 and 512 buckets: within the machine's noise; docs/performance.md, "Sessionizer").
MAX_BATCH = 1_000  # events per batch at most: one call's worth of work
AUTO_WATERMARK_INTERVAL_MS = 200  # watermarks, and batches of a stream whose watermark stands still
# End checks on a grid of event time: the sessions of a bucket due within the same second share one
# timer and one entry of the end-check map, instead of one each (a share of the memory per open
# session: docs/performance.md, bench/sessionizer_state.py). A final comes at most this much event
# time later than the end allows.
END_CHECK_GRID_MS = 1_000


def _dumps(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))


class SessionFunction(KeyedProcessFunction):  # type: ignore[misc]
    """The sessions of one bucket (SessionBatches in the connector jar): a batch of events per call.

    State, keyed by bucket: each session's Tracker in a map by session id, and the bucket's timers:
    an event-time timer at each time some session can end (the sessions due then in a map by
    time), one processing-time timer for the bucket's update records.
    """

    def __init__(self, settings: SessionSettings) -> None:
        self.settings = settings

    def open(self, runtime_context: RuntimeContext) -> None:
        # State crosses from Python to the JVM at the end of a bundle, and only what changed. A session's
        # value is its Tracker in the job's own stored form (stored.py: bytes, which PyFlink pickles
        # whole), so the worker's cache holds it compact.
        self.sessions = runtime_context.get_map_state(
            MapStateDescriptor(layout.SESSIONS_STATE, Types.STRING(), Types.PICKLED_BYTE_ARRAY())
        )
        self.end_checks = runtime_context.get_map_state(
            MapStateDescriptor(layout.END_CHECKS_STATE, Types.LONG(), Types.PICKLED_BYTE_ARRAY())
        )
        self.update_timer = runtime_context.get_state(ValueStateDescriptor(layout.UPDATE_TIMER_STATE, Types.LONG()))
        self.buckets_read: set[Any] = set()
        # Kept in the worker, not in state: rebuilt from the state when a worker first reads a bucket.
        self.bucket: Any = None  # the bucket of the call in progress
        self.open_sessions: dict[Any, set[str]] = {}  # by bucket: sessions not yet final
        self.changed: dict[Any, set[str]] = {}  # by bucket: open sessions changed since their last record

        # Late events by reason, as Flink counters that Managed Flink publishes to CloudWatch.
        group = runtime_context.get_metrics_group().add_group(MANAGED_FLINK_METRIC_GROUP)
        self.late_counters = {
            reason: group.add_group(LATE_REASON_DIMENSION, reason).counter(LATE_EVENTS_METRIC)
            for reason in LATE_REASONS
        }

    def _late(self, reason: LateReason, watermark: int, session_id: str | None, raw: Any) -> tuple[OutputTag, str]:
        self.late_counters[reason].inc()
        return LATE_EVENTS, _dumps(late_record(reason, watermark, _now_ms(), session_id, raw))

    def _read_bucket(self, ctx: Any) -> None:
        """Reads the bucket's maps whole, once per worker: PyFlink then knows every key it has, and
        looking up one it has not (a new session, a new end-check time) needs no round trip to the
        JVM. Those round trips were a third of the worker's time (bench/sessionizer.py, py-spy).
        The same pass notes which sessions are open and which changed since their last record, so
        an update walks only those (bench/sessionizer_state.py)."""
        bucket = ctx.get_current_key()
        self.bucket = bucket
        if bucket not in self.buckets_read:
            opened, changed = self.open_sessions.setdefault(bucket, set()), self.changed.setdefault(bucket, set())
            for session_id, value in self.sessions.items():
                final, changed_since_record = stored.flags(value)
                if not final:
                    opened.add(session_id)
                    if changed_since_record:
                        changed.add(session_id)
            for _ in self.end_checks.items():
                pass
            self.buckets_read.add(bucket)

    def process_element(self, batch: Batch, ctx: KeyedProcessFunction.Context) -> Any:
        self._read_bucket(ctx)
        timers = ctx.timer_service()
        flink_watermark, now = timers.current_watermark(), timers.current_processing_time()
        at_hand: dict[str, Tracker] = {}  # the batch's sessions: each decoded once and written once, at its end
        for session_id, shard_watermark, raw in zip(*batch, strict=True):
            yield from self._event(session_id, shard_watermark, raw, flink_watermark, now, timers, at_hand)
        for tracker in at_hand.values():
            self._store(tracker)
        update_at = self.update_timer.value()
        # More than an interval overdue: lost (a snapshot can hold state without its bundle's timers).
        if update_at is None or update_at < now - self.settings.update_interval_ms:
            update_at = next_update_time(now, self.settings)
            timers.register_processing_time_timer(update_at)
            self.update_timer.update(update_at)

    def _event(self, session_id: str, shard_watermark: int, raw: str, flink_watermark: int, now: int,
               timers: Any, at_hand: dict[str, Tracker]) -> Any:  # fmt: skip
        watermark = max(flink_watermark, shard_watermark)
        if session_id == UNPARSEABLE:
            yield self._late("unparseable", watermark, None, raw)
            return
        document = json.loads(raw)
        tracker = at_hand.get(session_id) or self._tracker(session_id) or Tracker(session_id)
        late = tracker.accept(Event.from_raw(document), watermark, self.settings)
        if late is not None:
            yield self._late(late, watermark, session_id, document)
            return  # the session is as it was
        # Seals what Flink's watermark has passed, as a timer at this watermark would: the session's
        # events are sealed as they come, and its only event-time timer is the one for its end.
        if tracker.advance(flink_watermark, self.settings):
            yield self._final(tracker, timers)
        else:
            self._schedule_end_check(tracker, timers)
            self.open_sessions[self.bucket].add(session_id)
            if tracker.changed and now - tracker.last_record_ms >= self.settings.update_interval_ms:
                # Its update is due: it goes out with the event, while the session is at hand,
                # instead of being read and written again at the bucket's next update timer.
                yield self._update(tracker, now)
                self.changed[self.bucket].discard(session_id)
            else:
                self.changed[self.bucket].add(session_id)
        at_hand[session_id] = tracker

    def _update(self, tracker: Tracker, now: int) -> str:
        tracker.last_record_ms = now
        return _dumps(tracker.record(self.settings))

    def _tracker(self, session_id: str) -> Tracker | None:
        value: bytes | Tracker | None = self.sessions.get(session_id)
        return None if value is None else stored.decode(session_id, value)

    def _store(self, tracker: Tracker) -> None:
        self.sessions.put(tracker.session_id, stored.encode(tracker))

    def _schedule_end_check(self, tracker: Tracker, timers: Any) -> None:
        """An event-time timer for when the session can end, unless an earlier one is already set:
        one that fires early finds the session going on and sets the next."""
        end_check = tracker.end_check_time(self.settings)
        if end_check is None:
            return
        end_check = on_check_grid(end_check)
        if tracker.end_check_ms is None or end_check < tracker.end_check_ms:
            self._check_at(end_check, tracker, timers)

    def _check_at(self, time_ms: int, tracker: Tracker, timers: Any) -> None:
        due: list[str] | None = self.end_checks.get(time_ms)
        if due is None:
            due = []
            timers.register_event_time_timer(time_ms)  # one per bucket and time
        due.append(tracker.session_id)
        self.end_checks.put(time_ms, due)
        tracker.end_check_ms = time_ms

    def _final(self, tracker: Tracker, timers: Any) -> str:
        """The final record of a session that just ended; its state becomes a tombstone, cleared at
        the end of the tombstone time."""
        record = _dumps(tracker.record(self.settings))
        self.open_sessions[self.bucket].discard(tracker.session_id)
        self.changed[self.bucket].discard(tracker.session_id)
        tracker.to_tombstone()
        self._check_at(on_check_grid((tracker.finalised_at_ms or 0) + self.settings.tombstone_ms), tracker, timers)
        return record

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Any:
        self._read_bucket(ctx)
        timers = ctx.timer_service()
        if ctx.time_domain() == TimeDomain.PROCESSING_TIME:
            yield from self._updates(timestamp, timers)
            return
        due: list[str] | None = self.end_checks.get(timestamp)
        if due is not None:
            yield from self._end_checks(timestamp, due, timers)

    def _end_checks(self, time_ms: int, due: list[str], timers: Any) -> Any:
        """The end checks set for `time_ms`, done and taken off the bucket's state."""
        self.end_checks.remove(time_ms)
        for session_id in dict.fromkeys(due):  # a session is due once per time
            yield from self._end_check(session_id, time_ms, timers)

    def _end_check(self, session_id: str, timestamp: int, timers: Any) -> Any:
        tracker = self._tracker(session_id)
        if tracker is None or tracker.end_check_ms != timestamp:
            return  # cleared, or due earlier (already checked) or later (its check is still set)
        tracker.end_check_ms = None
        if tracker.final:  # the tombstone's time is up
            self.sessions.remove(session_id)
            return
        if tracker.advance(timers.current_watermark(), self.settings):
            yield self._final(tracker, timers)
        else:
            self._schedule_end_check(tracker, timers)
            if tracker.changed:
                self.changed[self.bucket].add(session_id)
        self._store(tracker)

    def _updates(self, timestamp: int, timers: Any) -> Any:
        """The bucket's update records: each open session that changed since its last record (the
        worker's index of them, not a walk over every session of the bucket).

        First the end checks the watermark has passed whose timers a snapshot lost (PyFlink can
        snapshot state without the timers registered in the same bundle): Flink would have fired
        them. Update timers run while the bucket has an open session."""
        watermark = timers.current_watermark()
        if watermark != NO_WATERMARK:
            for overdue, due in [(time_ms, due) for time_ms, due in self.end_checks.items() if time_ms < watermark]:
                yield from self._end_checks(overdue, due, timers)
        changed = self.changed[self.bucket]
        for session_id in changed:
            tracker = self._tracker(session_id)
            if tracker is not None and not tracker.final and tracker.changed:
                yield self._update(tracker, timestamp)
                self._store(tracker)
        changed.clear()
        if self.open_sessions[self.bucket]:
            next_update = timestamp + self.settings.update_interval_ms
            timers.register_processing_time_timer(next_update)
            self.update_timer.update(next_update)
        else:
            self.update_timer.clear()


def on_check_grid(time_ms: int) -> int:
    """The end-check time for ``time_ms``: the next point of END_CHECK_GRID_MS."""
    return -(-time_ms // END_CHECK_GRID_MS) * END_CHECK_GRID_MS


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
    batches = jar.SessionBatches(layout.SESSION_BUCKETS, MAX_BATCH, AUTO_WATERMARK_INTERVAL_MS)
    keyed = parsed.transform("batch by bucket", jar.SessionBatches.TYPE, batches).keyBy(
        gateway.jvm.KeyByKeySelector(), Types.ROW([Types.STRING()]).get_java_type_info()
    )
    sessions = (
        KeyedStream(keyed, _BATCH, DataStream(parsed))
        .process(SessionFunction(session_settings(config)), output_type=Types.STRING())
        .name("sessions")
        .uid(layout.SESSIONS_UID)
    )
    return sessions, sessions.get_side_output(LATE_EVENTS)


def environment(
    config: SessionizerConfig, jar: Path | None, settings: Configuration | None = None
) -> StreamExecutionEnvironment:
    """The job's environment; ``settings`` are Flink options to start from."""
    settings = settings or Configuration()
    settings.set_string("python.execution-mode", config.execution_mode)
    settings.set_string("python.fn-execution.bundle.size", str(config.bundle_size))
    settings.set_string("python.state.cache-size", str(config.state_cache_size))
    # The sessions of a bucket, read once and then kept in the worker (absent ones included).
    settings.set_string("python.map-state.read-cache-size", str(config.state_cache_size))
    settings.set_string("python.map-state.iterate-response-batch-size", str(config.state_cache_size))
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
    env.get_config().set_auto_watermark_interval(AUTO_WATERMARK_INTERVAL_MS)
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
    raw = env.add_source(kinesis_source(config)).name("raw stream").uid(layout.RAW_SOURCE_UID)
    sessions, late = build(raw, config)
    sessions.sink_to(kinesis_sink(config.session_stream, config)).name("session stream").uid(layout.SESSION_SINK_UID)
    late.sink_to(kinesis_sink(config.late_stream, config)).name("late stream").uid(layout.LATE_SINK_UID)
    env.execute(f"prism-sessionizer-{config.environment}-{config.region}")


if __name__ == "__main__":
    main()


__all__ = ["NO_WATERMARK", "build", "main"]

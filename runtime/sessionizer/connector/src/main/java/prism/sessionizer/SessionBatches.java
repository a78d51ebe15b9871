package prism.sessionizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.api.java.tuple.Tuple5;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.types.Row;

/**
 * Parsed events in batches, {@code Row(bucket, [event, ...])}, one batch per bucket of sessions:
 * the Python session function takes a batch per call instead of an event per call. Each record
 * that crosses to Python and back costs more than the session logic itself, and a live session
 * has about one event per watermark interval, so batches are made across sessions: a session's
 * bucket is its id's {@link String#hashCode} (fixed by the Java language) modulo the number of
 * buckets, and the stream is keyed by bucket (PyFlink's {@code KeyByKeySelector}, field 0).
 *
 * <p>Nothing is held across what orders the stream: all batches go out before a watermark is
 * passed on (no event arrives behind the watermark that was ahead of it), before a checkpoint
 * barrier (a checkpoint holds no event here, so this operator has no state), at the end of the
 * input, when a batch is full, and every {@code flushIntervalMs} (events whose watermark stands
 * still).
 */
public final class SessionBatches extends AbstractStreamOperator<Row>
        implements OneInputStreamOperator<Tuple5<String, Long, Long, Long, String>, Row> {
    private static final long serialVersionUID = 1L;
    /**
     * A batch: its bucket, and its events as three columns (session ids, shard watermarks, raw
     * texts; the fields of {@link ParsedEvents} the session function reads). Columns, not a list
     * of tuples: in thread mode PyFlink converts a list of tuples with one reused tuple.
     */
    public static final TypeInformation<Row> TYPE = Types.ROW(
            Types.STRING,
            Types.TUPLE(Types.LIST(Types.STRING), Types.PRIMITIVE_ARRAY(Types.LONG), Types.LIST(Types.STRING)));

    private final int buckets;
    private final int maxBatch;
    private final long flushIntervalMs;
    private transient Map<Integer, List<Tuple5<String, Long, Long, Long, String>>> pending;

    public SessionBatches(int buckets, int maxBatch, long flushIntervalMs) {
        if (buckets < 1 || maxBatch < 1 || flushIntervalMs < 1) {
            throw new IllegalArgumentException("buckets, maxBatch and flushIntervalMs must be positive");
        }
        this.buckets = buckets;
        this.maxBatch = maxBatch;
        this.flushIntervalMs = flushIntervalMs;
    }

    @Override
    public void open() throws Exception {
        super.open();
        pending = new HashMap<>();
        scheduleFlush();
    }

    private void scheduleFlush() {
        long now = getProcessingTimeService().getCurrentProcessingTime();
        getProcessingTimeService().registerTimer(now + flushIntervalMs, time -> {
            flush();
            scheduleFlush();
        });
    }

    @Override
    public void processElement(StreamRecord<Tuple5<String, Long, Long, Long, String>> element) {
        Tuple5<String, Long, Long, Long, String> event = element.getValue();
        int bucket = Math.floorMod(event.f0.hashCode(), buckets);
        List<Tuple5<String, Long, Long, Long, String>> batch = pending.computeIfAbsent(bucket, b -> new ArrayList<>());
        batch.add(event);
        if (batch.size() >= maxBatch) {
            pending.remove(bucket);
            emit(bucket, batch);
        }
    }

    private void emit(int bucket, List<Tuple5<String, Long, Long, Long, String>> batch) {
        List<String> sessionIds = new ArrayList<>(batch.size());
        long[] shardWatermarks = new long[batch.size()];
        List<String> raws = new ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            Tuple5<String, Long, Long, Long, String> event = batch.get(i);
            sessionIds.add(event.f0);
            shardWatermarks[i] = event.f3;
            raws.add(event.f4);
        }
        output.collect(new StreamRecord<>(Row.of(Integer.toString(bucket), Tuple3.of(sessionIds, shardWatermarks, raws))));
    }

    private void flush() {
        for (Map.Entry<Integer, List<Tuple5<String, Long, Long, Long, String>>> entry : pending.entrySet()) {
            emit(entry.getKey(), entry.getValue());
        }
        pending.clear();
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        flush();
        super.processWatermark(mark);
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        flush();
        super.prepareSnapshotPreBarrier(checkpointId);
    }

    @Override
    public void finish() throws Exception {
        flush();
        super.finish();
    }
}

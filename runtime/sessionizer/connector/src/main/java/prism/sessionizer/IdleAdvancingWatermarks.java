package prism.sessionizer;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;

/**
 * Bounded out-of-orderness watermarks that keep moving when the input goes quiet.
 *
 * <p>While events flow, the watermark is the newest event time minus the out-of-orderness
 * (as {@code WatermarkStrategy.forBoundedOutOfOrderness}). Once no event has arrived for
 * {@code idleAfterMs} of processing time, it advances with the clock from there: sessions of
 * a quiet stream still end (their final record, their inactivity timeout) instead of waiting
 * for the next event. An event delayed by d is late only when d exceeds out-of-orderness +
 * idle time + allowed lateness, never sooner than without this.
 *
 * <p>Silence means "no data" only when the reader was caught up: the newest event it saw was
 * no older than {@code caughtUpLagMs} (out-of-orderness + allowed lateness) when it saw it. A
 * reader working through an older backlog never advances by the clock, or a stalled fetch
 * would turn the backlog late. Only the newest event decides: a straggler far behind it says
 * nothing about the reader, and must not stop the clock for everyone else.
 */
public final class IdleAdvancingWatermarks<T> implements WatermarkGenerator<T> {

    private final long outOfOrdernessMs;
    private final long idleAfterMs;
    private final long caughtUpLagMs;
    private boolean seen;
    private long maxTimestamp;
    private long lastEventAtMs;
    private long maxTimestampSeenAtMs;

    public IdleAdvancingWatermarks(long outOfOrdernessMs, long idleAfterMs, long caughtUpLagMs) {
        this.outOfOrdernessMs = outOfOrdernessMs;
        this.idleAfterMs = idleAfterMs;
        this.caughtUpLagMs = caughtUpLagMs;
    }

    public static <T> WatermarkStrategy<T> strategy(long outOfOrdernessMs, long idleAfterMs, long caughtUpLagMs) {
        return context -> new IdleAdvancingWatermarks<>(outOfOrdernessMs, idleAfterMs, caughtUpLagMs);
    }

    @Override
    public void onEvent(T event, long eventTimestamp, WatermarkOutput output) {
        long now = System.currentTimeMillis();
        if (!seen || eventTimestamp > maxTimestamp) {
            maxTimestamp = eventTimestamp;
            maxTimestampSeenAtMs = now;
        }
        seen = true;
        lastEventAtMs = now;
    }

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {
        if (!seen) {
            return;
        }
        long watermark = maxTimestamp - outOfOrdernessMs - 1;
        long quietMs = System.currentTimeMillis() - lastEventAtMs;
        boolean caughtUp = maxTimestampSeenAtMs - maxTimestamp <= caughtUpLagMs;
        if (caughtUp && quietMs > idleAfterMs) {
            watermark += quietMs - idleAfterMs;
        }
        output.emitWatermark(new Watermark(watermark));
    }
}

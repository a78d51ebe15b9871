package prism.sessionizer;

import java.io.Serializable;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.java.tuple.Tuple5;

/**
 * Bounded out-of-orderness watermarks that keep moving when the input goes quiet, by the
 * rule of {@link IdleAdvancingClock} on this task's wall clock.
 *
 * <p>The job's parsed records are {@code (sessionId, eventTime, arrivalTime, shardWatermark, raw)}
 * ({@link ParsedEvents}): {@link #forParsedEvents} takes the event
 * time from field 1 and the arrival time from field 2, in Java, so no Python operator is
 * needed to assign timestamps.
 */
public final class IdleAdvancingWatermarks<T> implements WatermarkGenerator<T> {

    /** The server-side arrival time of an event; zero or less when it has none. */
    @FunctionalInterface
    public interface ArrivalTime<T> extends Serializable {
        long of(T event);
    }

    private final IdleAdvancingClock clock;
    private final ArrivalTime<T> arrivalTime;

    public IdleAdvancingWatermarks(
            long outOfOrdernessMs, long idleAfterMs, long caughtUpLagMs, ArrivalTime<T> arrivalTime) {
        this.clock = new IdleAdvancingClock(outOfOrdernessMs, idleAfterMs, caughtUpLagMs);
        this.arrivalTime = arrivalTime;
    }

    public static WatermarkStrategy<Tuple5<String, Long, Long, Long, String>> forParsedEvents(
            long outOfOrdernessMs, long idleAfterMs, long caughtUpLagMs) {
        WatermarkStrategy<Tuple5<String, Long, Long, Long, String>> strategy =
                context -> new IdleAdvancingWatermarks<>(
                        outOfOrdernessMs, idleAfterMs, caughtUpLagMs, event -> event.f2);
        return strategy.withTimestampAssigner((event, previous) -> event.f1);
    }

    @Override
    public void onEvent(T event, long eventTimestamp, WatermarkOutput output) {
        clock.observe(eventTimestamp, arrivalTime.of(event), System.currentTimeMillis());
    }

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {
        long watermark = clock.watermark(System.currentTimeMillis());
        if (watermark != IdleAdvancingClock.NO_WATERMARK) {
            output.emitWatermark(new Watermark(watermark));
        }
    }
}

package prism.sessionizer;

/**
 * The watermark rule of the sessionizer's reader, as plain arithmetic on times given to it.
 *
 * <p>While events flow, the watermark is the newest event time minus the out-of-orderness
 * (as {@code WatermarkStrategy.forBoundedOutOfOrderness}). Once no event has come for
 * {@code idleAfterMs} of processing time, it advances with the clock from there, so the
 * sessions of a quiet stream still end (their final record, their inactivity timeout)
 * instead of waiting for the next event.
 *
 * <p>Silence means "no data" only when the reader is caught up, and that is judged on the
 * servers' clocks alone: the newest <em>arrival</em> (the ingest service's
 * {@code server.receivedAt}) was read at most {@code caughtUpLagMs} after it arrived. Event
 * times come from players' clocks, which may be minutes off, so they never decide it: a
 * player whose clock runs behind or ahead changes nothing here. A reader working through a
 * backlog reads arrivals that are long past, is not caught up, and does not advance by the
 * clock, so a stalled fetch cannot turn the backlog late. An event without an arrival time
 * says nothing either way. Only the newest arrival decides: an old one read after it (a
 * slow shard) does not stop the clock for everyone else.
 *
 * <p>A reader that has read nothing at all for longer than {@code caughtUpLagMs} has read
 * all there was: a reader with a backlog reads it without pause (a fetch retries within
 * seconds, and a failing one restarts the job, and this clock with it). That is a region
 * back from an outage with its backlog read and no player sent there yet: without it, the
 * sessions it held would never end.
 *
 * <p>The watermark never goes backwards: an event after a silence raises it from where the
 * clock had taken it, never lowers it.
 */
public final class IdleAdvancingClock {

    /** What {@link #watermark} returns before the first event. */
    public static final long NO_WATERMARK = Long.MIN_VALUE;

    private final long outOfOrdernessMs;
    private final long idleAfterMs;
    private final long caughtUpLagMs;
    private boolean seen;
    private long maxEventTime;
    private long lastEventAtMs;
    private long maxArrival = Long.MIN_VALUE;
    private long maxArrivalReadAtMs;
    private long emitted = NO_WATERMARK;

    public IdleAdvancingClock(long outOfOrdernessMs, long idleAfterMs, long caughtUpLagMs) {
        this.outOfOrdernessMs = outOfOrdernessMs;
        this.idleAfterMs = idleAfterMs;
        this.caughtUpLagMs = caughtUpLagMs;
    }

    /**
     * An event read at {@code nowMs}: its (player's) event time and its (server's) arrival
     * time, or a non-positive arrival time when it has none.
     */
    public void observe(long eventTimeMs, long arrivalMs, long nowMs) {
        if (!seen || eventTimeMs > maxEventTime) {
            maxEventTime = eventTimeMs;
        }
        if (arrivalMs > 0 && arrivalMs > maxArrival) {
            maxArrival = arrivalMs;
            maxArrivalReadAtMs = nowMs;
        }
        seen = true;
        lastEventAtMs = nowMs;
    }

    /** Whether the newest arrival was read within the caught-up lag. */
    public boolean caughtUp() {
        return maxArrival != Long.MIN_VALUE && maxArrivalReadAtMs - maxArrival <= caughtUpLagMs;
    }

    /** Whether the reader is caught up at {@code nowMs}: live, or read out after a backlog. */
    public boolean caughtUp(long nowMs) {
        return caughtUp() || (maxArrival != Long.MIN_VALUE && nowMs - lastEventAtMs > caughtUpLagMs);
    }

    /** The watermark at {@code nowMs}; {@link #NO_WATERMARK} until an event was seen. */
    public long watermark(long nowMs) {
        if (!seen) {
            return NO_WATERMARK;
        }
        long watermark = maxEventTime - outOfOrdernessMs - 1;
        long quietMs = nowMs - lastEventAtMs;
        if (caughtUp(nowMs) && quietMs > idleAfterMs) {
            watermark += quietMs - idleAfterMs;
        }
        emitted = Math.max(emitted, watermark);
        return emitted;
    }
}

package prism.bench;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * When the generator made which event: the wall time of every {@link #EVERY}th index, in a ring
 * the latency sink reads (both run in the mini-cluster's JVM).
 */
public final class GenerationClock {
    public static final int EVERY = 64;
    private static final int SLOTS = 1 << 20;
    private static final AtomicLongArray INDEX = new AtomicLongArray(SLOTS);
    private static final AtomicLongArray WALL = new AtomicLongArray(SLOTS);
    private static final AtomicLong NEXT = new AtomicLong();

    private GenerationClock() {}

    static void note(long index) {
        NEXT.lazySet(index + 1);
        if (index % EVERY == 0) {
            int slot = (int) ((index / EVERY) % SLOTS);
            WALL.set(slot, System.currentTimeMillis());
            INDEX.set(slot, index);
        }
    }

    /** The index after the newest event generated: how far the source has come (it resumes from a checkpoint). */
    public static long next() {
        return NEXT.get();
    }

    /** The wall time the event at this index was generated, or -1 when it is not noted (any more). */
    public static long wallOf(long index) {
        long noted = index - index % EVERY;
        int slot = (int) ((noted / EVERY) % SLOTS);
        return INDEX.get(slot) == noted ? WALL.get(slot) : -1;
    }
}

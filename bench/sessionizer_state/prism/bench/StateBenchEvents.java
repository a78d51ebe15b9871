package prism.bench;

import org.apache.flink.connector.datagen.source.GeneratorFunction;

/**
 * The state benchmark's players, as raw-stream JSON: first every session opens (init, metadata,
 * bitrate, playing), then each session posts a heartbeat every heartbeat interval of event time,
 * round after round. A session lasts a fixed number of rounds: then its slot starts a new session
 * (init, playing) and the old one ends by the inactivity gap, as an abandoned session does.
 *
 * <p>Event time is a function of the index alone, so a run restored from a checkpoint goes on
 * with the very events it would have had. The wall time each event is generated at is noted
 * (every {@link GenerationClock#EVERY}th), for the latency sink.
 */
public final class StateBenchEvents implements GeneratorFunction<Long, String> {
    public static final long T0 = 1_764_000_000_000L;
    public static final int OPENING_EVENTS = 4;

    private final long sessions;
    private final long heartbeatMs;
    private final long roundsPerSession;

    public StateBenchEvents(long sessions, long heartbeatMs, long roundsPerSession) {
        this.sessions = sessions;
        this.heartbeatMs = heartbeatMs;
        this.roundsPerSession = roundsPerSession;
    }

    public long openingEvents() {
        return sessions * OPENING_EVENTS;
    }

    /** The index of the steady-phase event with this event time (inverse of its time). */
    public long indexAt(long eventTimeMs) {
        long offset = (eventTimeMs - T0 - heartbeatMs) * sessions / heartbeatMs;
        return openingEvents() + Math.max(0, offset);
    }

    @Override
    public String map(Long boxed) {
        long index = boxed;
        GenerationClock.note(index);
        if (index < openingEvents()) {
            long slot = index / OPENING_EVENTS;
            int step = (int) (index % OPENING_EVENTS);
            long time = T0 + slot * heartbeatMs / sessions + step;
            String id = id(slot, slot / roundsPerSession);
            switch (step) {
                case 0:
                    return event("init", id, time, null);
                case 1:
                    return event("metadata", id, time,
                            "{\"contentId\":\"c-" + slot % 40 + "\",\"live\":false,\"deviceType\":\""
                                    + (slot % 3 == 0 ? "tv" : slot % 3 == 1 ? "web" : "mobile") + "\"}");
                case 2:
                    return event("bitrate_changed", id, time, "{\"bitrate\":3000}");
                default:
                    return event("playing", id, time, null);
            }
        }
        long steady = index - openingEvents();
        long round = 1 + steady / sessions;
        long slot = steady % sessions;
        long time = T0 + round * heartbeatMs + slot * heartbeatMs / sessions;
        long phase = (round + slot) % roundsPerSession;
        String id = id(slot, (round + slot) / roundsPerSession);
        if (phase == 0) {
            return event("init", id, time, null);
        }
        if (phase == 1) {
            return event("playing", id, time, null);
        }
        return event("heartbeat", id, time, null);
    }

    private static String id(long slot, long epoch) {
        return "b-" + slot + "-" + epoch;
    }

    private static String event(String name, String sessionId, long time, String payload) {
        StringBuilder json = new StringBuilder(220)
                .append("{\"event\":\"").append(name)
                .append("\",\"sessionId\":\"").append(sessionId)
                .append("\",\"timestamp\":").append(time)
                .append(",\"playhead\":0,\"duration\":3600,")
                .append("\"server\":{\"userAgent\":\"prism-web/3.1 (Linux; tv)\",\"region\":\"us-east-1\"}");
        if (payload != null) {
            json.append(",\"payload\":").append(payload);
        }
        return json.append('}').toString();
    }
}

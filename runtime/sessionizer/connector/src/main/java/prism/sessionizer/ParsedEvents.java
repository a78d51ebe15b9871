package prism.sessionizer;

import java.util.HashMap;
import java.util.Map;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple5;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Each raw event as {@code (sessionId, eventTime, arrivalTime, shardWatermark, raw)}, in Java:
 * the session function (runtime/sessionizer/job.py) is then the job's only Python operator.
 * Every record that crosses to Python and back costs more CPU than the session logic itself
 * (bench/sessionizer.py), and a parse step and PyFlink's key-by step in Python made three
 * crossings per event.
 *
 * <ul>
 *   <li>sessionId: the event's {@code sessionId}, a JSON string (the ingest service accepts no
 *       other); eventTime: its {@code timestamp}, a whole number of epoch ms;
 *   <li>arrivalTime: {@code server.receivedAt}, the ingest service's clock, or {@link #NO_ARRIVAL};
 *   <li>shardWatermark: the watermark of the shard the event was read from, as of this event: the
 *       newest event time read from that shard so far, less the out-of-orderness, less 1 (the
 *       rule of {@link IdleAdvancingWatermarks}). Flink's own watermark reaches the session
 *       function late, and a restored job starts with none, so lateness is judged by the higher
 *       of the two. Per shard: a reader fetches each shard at its own pace. Records without a
 *       shard prefix ({@link ShardTaggedStrings}; a file, a test's collection) are one shard.
 *   <li>anything that is not such an event: sessionId {@link #UNPARSEABLE}, for the late stream.
 * </ul>
 */
public final class ParsedEvents implements MapFunction<String, Tuple5<String, Long, Long, Long, String>> {
    private static final long serialVersionUID = 1L;
    public static final String UNPARSEABLE = "";
    public static final long NO_ARRIVAL = 0L;
    public static final long NO_WATERMARK = Long.MIN_VALUE;
    public static final TypeInformation<Tuple5<String, Long, Long, Long, String>> TYPE =
            Types.TUPLE(Types.STRING, Types.LONG, Types.LONG, Types.LONG, Types.STRING);

    private static final ObjectMapper JSON = new ObjectMapper();

    private final long outOfOrdernessMs;
    private transient Map<String, Long> newestEventMs;

    public ParsedEvents(long outOfOrdernessMs) {
        this.outOfOrdernessMs = outOfOrdernessMs;
    }

    @Override
    public Tuple5<String, Long, Long, Long, String> map(String value) {
        if (newestEventMs == null) {
            newestEventMs = new HashMap<>();
        }
        int cut = value.indexOf(ShardTaggedStrings.SEPARATOR);
        String shard = cut < 0 ? "" : value.substring(0, cut);
        String raw = cut < 0 ? value : value.substring(cut + ShardTaggedStrings.SEPARATOR.length());
        JsonNode document = document(raw);
        String sessionId = UNPARSEABLE;
        long eventMs = 0L;
        long arrivalMs = NO_ARRIVAL;
        if (document != null && document.path("sessionId").isTextual() && isWholeNumber(document.path("timestamp"))) {
            sessionId = document.get("sessionId").asText();
            eventMs = document.get("timestamp").asLong();
            JsonNode received = document.path("server").path("receivedAt");
            if (isWholeNumber(received) && received.asLong() > 0) {
                arrivalMs = received.asLong();
            }
            newestEventMs.merge(shard, eventMs, Math::max);
        }
        Long newest = newestEventMs.get(shard);
        long watermark = newest == null ? NO_WATERMARK : newest - outOfOrdernessMs - 1;
        return Tuple5.of(sessionId, eventMs, arrivalMs, watermark, raw);
    }

    private static JsonNode document(String raw) {
        try {
            JsonNode node = JSON.readTree(raw);
            return node != null && node.isObject() ? node : null;
        } catch (Exception notJson) {
            return null;
        }
    }

    private static boolean isWholeNumber(JsonNode node) {
        return node.isIntegralNumber() && node.canConvertToLong();
    }
}

package prism.sessionizer;

import org.apache.flink.connector.kinesis.sink.PartitionKeyGenerator;

/**
 * Partition key of a session or late record: its "sessionId", so every record of a
 * session lands on one shard of the session (or late) stream, in order.
 *
 * <p>The records are the sessionizer's compact JSON; the key is read without a JSON
 * library. A record without a session id (an unparseable raw event on its way to the
 * late stream) gets a fixed key.
 */
public final class SessionIdPartitionKeyGenerator implements PartitionKeyGenerator<String> {
    private static final long serialVersionUID = 1L;
    private static final String FIELD = "\"sessionId\":\"";
    static final String NO_SESSION = "no-session";

    @Override
    public String apply(String record) {
        int start = record.indexOf(FIELD);
        if (start < 0) {
            return NO_SESSION;
        }
        start += FIELD.length();
        StringBuilder key = new StringBuilder();
        for (int i = start; i < record.length(); i++) {
            char c = record.charAt(i);
            if (c == '"') {
                break;
            }
            if (c == '\\' && i + 1 < record.length()) {
                c = record.charAt(++i);
            }
            key.append(c);
        }
        // Kinesis partition keys are 1 to 256 characters.
        if (key.length() == 0) {
            return NO_SESSION;
        }
        return key.length() > 256 ? key.substring(0, 256) : key.toString();
    }
}

package prism.sessionizer;

import java.nio.charset.StandardCharsets;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.connectors.kinesis.serialization.KinesisDeserializationSchema;

/**
 * A raw stream's user record as text, prefixed by the id of the shard it was read from and
 * {@link #SEPARATOR}: {@code shardId-000000000001\u001e{"sessionId": ...}}.
 *
 * <p>The job judges lateness per shard ({@link ParsedEvents}):
 * one reader's shards are fetched each at its own pace, so the newest event of one shard
 * says nothing about how late an event of another is. The separator (ASCII record
 * separator) never occurs in a shard id, so the first one ends the prefix whatever the
 * record holds.
 */
public final class ShardTaggedStrings implements KinesisDeserializationSchema<String> {
    private static final long serialVersionUID = 1L;
    public static final String SEPARATOR = "\u001e";

    @Override
    public String deserialize(
            byte[] recordValue,
            String partitionKey,
            String seqNum,
            long approxArrivalTimestamp,
            String stream,
            String shardId) {
        return shardId + SEPARATOR + new String(recordValue, StandardCharsets.UTF_8);
    }

    @Override
    public TypeInformation<String> getProducedType() {
        return Types.STRING;
    }
}

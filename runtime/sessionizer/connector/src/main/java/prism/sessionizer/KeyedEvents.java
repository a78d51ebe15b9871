package prism.sessionizer;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple5;
import org.apache.flink.types.Row;

/**
 * A parsed event behind its key, {@code Row(sessionId, event)}: what PyFlink's own key-by step
 * makes in Python, made here in Java. Keyed by field 0 (PyFlink's {@code KeyByKeySelector}),
 * the stream goes to the Python session function as a stream PyFlink keyed itself would: the
 * same record and key types, so the keyed state of earlier checkpoints still reads.
 */
public final class KeyedEvents
        implements MapFunction<Tuple5<String, Long, Long, Long, String>, Row> {
    private static final long serialVersionUID = 1L;
    public static final TypeInformation<Row> TYPE = Types.ROW(Types.STRING, ParsedEvents.TYPE);

    @Override
    public Row map(Tuple5<String, Long, Long, Long, String> event) {
        return Row.of(event.f0, event);
    }
}

package prism.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import org.apache.flink.streaming.api.functions.sink.SinkFunction;

/**
 * Counts the session records and, for each, how long after its newest event was generated it
 * left the job, in 100 ms steps up to two minutes. Every second it writes what it counted so far,
 * with how far the generator has come, to a file the benchmark reads (the job's classes are not
 * the benchmark's: they share no memory).
 */
public final class LatencySink implements SinkFunction<String> {
    private static final int STEPS = 1_200;
    private static final String UPDATE_TIME = "\"updateTime\":";

    private final StateBenchEvents events;
    private final String statsFile;
    private transient long[] histogram;
    private transient long records;
    private transient long finals;
    private transient long writtenAt;

    public LatencySink(StateBenchEvents events, String statsFile) {
        this.events = events;
        this.statsFile = statsFile;
    }

    @Override
    public void invoke(String record, Context context) throws IOException {
        if (histogram == null) {
            histogram = new long[STEPS + 1];
        }
        records++;
        if (record.contains("\"final\":true")) {
            finals++;
        }
        int at = record.indexOf(UPDATE_TIME);
        if (at >= 0) {
            int start = at + UPDATE_TIME.length();
            int end = start;
            while (end < record.length() && Character.isDigit(record.charAt(end))) {
                end++;
            }
            if (end > start) {
                long generated = GenerationClock.wallOf(events.indexAt(Long.parseLong(record.substring(start, end))));
                if (generated > 0) {
                    histogram[(int) Math.min(STEPS, Math.max(0, (System.currentTimeMillis() - generated) / 100))]++;
                }
            }
        }
        long now = System.currentTimeMillis();
        if (now - writtenAt >= 1_000) {
            writtenAt = now;
            write();
        }
    }

    private void write() throws IOException {
        StringBuilder json = new StringBuilder("{\"wallMs\":").append(writtenAt)
                .append(",\"generated\":").append(GenerationClock.next())
                .append(",\"records\":").append(records)
                .append(",\"finals\":").append(finals).append(",\"stepMs\":100,\"histogram\":[");
        for (int i = 0; i <= STEPS; i++) {
            json.append(i == 0 ? "" : ",").append(histogram[i]);
        }
        Path target = Paths.get(statsFile);
        Path partial = Paths.get(statsFile + ".partial");
        Files.write(partial, json.append("]}").toString().getBytes(StandardCharsets.UTF_8));
        Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}

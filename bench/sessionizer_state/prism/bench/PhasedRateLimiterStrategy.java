package prism.bench;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.flink.api.connector.source.util.ratelimit.GuavaRateLimiter;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiter;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;

/** The first records as fast as the job takes them (opening the sessions), then a steady rate. */
public final class PhasedRateLimiterStrategy implements RateLimiterStrategy {
    private final long unlimited;
    private final double perSecond;

    public PhasedRateLimiterStrategy(long unlimited, double perSecond) {
        this.unlimited = unlimited;
        this.perSecond = perSecond;
    }

    @Override
    public RateLimiter createRateLimiter(int parallelism) {
        GuavaRateLimiter steady = new GuavaRateLimiter(perSecond / parallelism);
        long free = unlimited / parallelism;
        return new RateLimiter() {
            private long acquired;

            @Override
            public CompletionStage<Void> acquire() {
                return acquired++ < free ? CompletableFuture.completedFuture(null) : steady.acquire();
            }
        };
    }
}

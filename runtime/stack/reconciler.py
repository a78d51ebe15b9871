"""Parser of the reconciler's section: its function, its queue and how far it searches the archive."""

from __future__ import annotations

from runtime.stack.data_path import parse_zip_path
from runtime.stack.model import ReconcilerSettings
from runtime.stack.reader import Section, SettingsError

# SQS holds a message back at most 15 minutes (DelaySeconds), which is also S3 Replication Time
# Control's bound for 99.99% of objects: by then the other region's objects are in the bucket.
MAX_QUEUE_DELAY_SECONDS = 900


def parse_reconciler(section: Section) -> ReconcilerSettings:
    settings = ReconcilerSettings(
        artifact=parse_zip_path(section, "build/reconciler/prism-reconciler.zip"),
        memory_mb=section.integer("memoryMb", 1_024, 128, 10_240),
        timeout_seconds=section.integer("timeoutSeconds", 300, 30, 900),
        # Each invocation may run an Athena query: a few at a time leave the account's query quota to people.
        reserved_concurrency=section.integer("reservedConcurrency", 2, 1),
        batch_size=section.integer("batchSize", 100, 1, 10_000),
        batching_window_seconds=section.integer("batchingWindowSeconds", 60, 0, 300),
        settle_delay_seconds=section.integer("settleDelaySeconds", MAX_QUEUE_DELAY_SECONDS, 0, MAX_QUEUE_DELAY_SECONDS),
        search_margin_minutes=section.integer("searchMarginMinutes", 60, 0, 1_440),
        parts_retention_days=section.integer("partsRetentionDays", 2, 1, 35),
        maximum_receives=section.integer("maximumReceives", 5, 1, 1_000),
        # SQS keeps a message at most 14 days.
        failed_message_retention_days=section.integer("failedMessageRetentionDays", 14, 1, 14),
    )
    if settings.batch_size > 10 and settings.batching_window_seconds < 1:
        # Lambda's rule for SQS event sources.
        raise SettingsError(section.key("batchingWindowSeconds"), "must be at least 1 when batchSize is over 10",
                            settings.batching_window_seconds)  # fmt: skip
    section.finish()
    return settings

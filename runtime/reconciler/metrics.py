"""The reconciler's metrics (CloudWatch, embedded in its logs by powertools): named once, here."""

from __future__ import annotations

from typing import Final

NAMESPACE: Final = "prism"
SERVICE: Final = "reconciler"  # powertools' `service` dimension
ENDED_RECORDS_READ: Final = "EndedRecordsRead"
MOVED_SESSIONS_DUE: Final = "MovedSessionsDue"
ARCHIVE_SEARCHES: Final = "ArchiveSearches"
RECORDS_WRITTEN: Final = "ReconciledRecordsWritten"

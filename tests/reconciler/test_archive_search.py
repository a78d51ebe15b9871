"""The archive search: which hour folders a moved session's events can be in, the SQL it sends, and
what it makes of Athena's answer (or of no answer)."""

from __future__ import annotations

import json

import pytest

from runtime.names import hour_folder
from runtime.reconciler.archive_search import (
    SESSIONS_PER_QUERY,
    ArchiveSearch,
    SearchFailed,
    hour_folders,
    search_query,
)
from runtime.reconciler.moves import SessionParts
from runtime.reconciler.settings import ReconcilerSettings, environment, load_settings
from tests.reconciler.fake_athena import FakeAthena
from tests.reconciler.test_moves import CONTINUATION, EAST, SESSION, WEST, streamed
from tests.sessionizer.sequences import raw

HOUR_MS = 3_600_000


def parts(session_id: str = "s1") -> SessionParts:
    return SessionParts(session_id, {WEST: streamed(SESSION, WEST), EAST: streamed(CONTINUATION, EAST)})


def test_an_arrival_hour_folder_is_the_one_firehose_writes_in_utc() -> None:
    # 2026-12-05 03:59:59.999 UTC, and the next millisecond
    assert hour_folder(1_796_443_199_999) == "year=2026/month=12/day=05/hour=03"
    assert hour_folder(1_796_443_200_000) == "year=2026/month=12/day=05/hour=04"


def test_the_search_covers_every_hour_from_the_first_event_to_the_last_with_the_margin() -> None:
    moved = parts()
    first = min(r["firstEventTime"] for r in moved.newest.values())
    last = max(r["lastEventTime"] for r in moved.newest.values())
    assert hour_folders(moved, 0) == {hour_folder(first), hour_folder(last)}
    wide = hour_folders(moved, 90)
    assert hour_folder(first - 90 * 60_000) in wide and hour_folder(last + 90 * 60_000) in wide
    assert hour_folder(first - 150 * 60_000) not in wide and len(wide) == 4


def test_the_query_reads_both_tables_in_the_named_hours_only_and_quotes_what_it_names() -> None:
    query = search_query("prism_dev_use1_archive", ["s1", "it's"], ["year=2026/month=12/day=05/hour=03"])
    assert query.count("UNION ALL") == 1
    assert '"prism_dev_use1_archive"."raw_events"' in query and '"prism_dev_use1_archive"."late_events"' in query
    assert query.count("hour_folder IN ('year=2026/month=12/day=05/hour=03')") == 2
    assert "'it''s'" in query and "json_extract_scalar(line, '$.sessionId') IN ('it''s', 's1')" in query


def test_the_answer_is_indexed_by_session_with_late_events_apart_and_unreadable_lines_skipped() -> None:
    late_event = raw(CONTINUATION[0])
    rows = [("raw", json.dumps(raw(e))) for e in SESSION + CONTINUATION]
    rows += [("late", json.dumps({"sessionId": "s1", "event": late_event})), ("raw", "not json")]
    search = ArchiveSearch(FakeAthena(rows), "wg", "db", 60, sleep=lambda _: None)
    found = search.find([parts()])
    assert [e.name for e in found.events["s1"]] == [e.name for e in SESSION + CONTINUATION]
    assert found.late == {"s1": {(late_event["event"], late_event["timestamp"])}}


def test_many_sessions_are_searched_in_chunks_and_a_failed_query_fails_the_search() -> None:
    athena = FakeAthena([])
    ArchiveSearch(athena, "wg", "db", 0, sleep=lambda _: None).find([parts(f"s{n}") for n in range(2_001)])
    assert len(athena.queries) == 3 and all(len(q) < 262_144 for q in athena.queries)
    assert len(athena.queries[0].split("'s")) - 1 == 2 * SESSIONS_PER_QUERY  # each id in both selects
    with pytest.raises(SearchFailed, match="FAILED: no such table"):
        ArchiveSearch(FakeAthena([], "FAILED"), "wg", "db", 0, sleep=lambda _: None).find([parts()])


def test_the_functions_settings_go_through_its_environment_unchanged_and_a_missing_one_is_named() -> None:
    settings = ReconcilerSettings("dev", EAST, "prism-dev-use1-session", "t", "wg", "db", 60, 2, 30_000, 15_000,
                                  10_000)  # fmt: skip
    assert load_settings(environment(settings)) == settings
    variables = environment(settings)
    del variables["RECONCILER_INACTIVITY_GAP_MS"]
    with pytest.raises(ValueError, match="RECONCILER_INACTIVITY_GAP_MS is required"):
        load_settings(variables)

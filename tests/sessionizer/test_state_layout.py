"""The sessionizer's state layout is a contract: the job's layout is the released one for its state
version, a change fails here with how to release a new version, every released version's pickled
Tracker still loads and goes on exactly, and a deploy may drop state only for a named migration."""

from __future__ import annotations

import base64
import copy
import dataclasses
import pickle
from typing import Any

import pytest

from runtime.sessionizer import stored
from runtime.sessionizer.playback import Event
from runtime.sessionizer.state_layout import (
    SESSIONS_UID,
    STATE_VERSION,
    current_layout,
    layout_problem,
    released,
    sample_tracker,
)
from runtime.stack import SettingsError, parse_settings, stack_file_values
from tests.graph import ROOT
from tests.sessionizer.sequences import SETTINGS


def test_the_job_has_the_layout_released_as_its_state_version() -> None:
    assert layout_problem(current_layout(), released(), STATE_VERSION) is None


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"session_buckets": 128}, "session_buckets"),
        ({"operator_uids": tuple(u.replace(SESSIONS_UID, "sessions-v3") for u in current_layout().operator_uids)},
         "operator_uids"),
        ({"tracker_state": (*current_layout().tracker_state, "watermark")}, "tracker_state"),
    ],
    ids=["bucket count", "operator uid", "pickled Tracker"],
)  # fmt: skip
def test_a_layout_change_under_the_same_version_fails_with_how_to_release_one(change: dict[str, Any],
                                                                           named: str) -> None:  # fmt: skip
    problem = layout_problem(dataclasses.replace(current_layout(), **change), released(), STATE_VERSION)
    assert problem is not None
    assert f"changed ({named})" in problem and f"Release state version {STATE_VERSION + 1}" in problem
    assert "raise STATE_VERSION" in problem and f"sessionizer.stateMigration: {STATE_VERSION + 1}" in problem


def test_an_unreleased_version_says_to_release_it() -> None:
    problem = layout_problem(current_layout(), released(), STATE_VERSION + 1)
    assert problem is not None and "--release" in problem


@pytest.mark.parametrize("version", sorted(released()))
def test_a_tracker_stored_by_each_released_version_loads_and_goes_on_exactly(version: int) -> None:
    # As the job gets it from its map state: PyFlink unpickles the snapshot's value.
    restored = stored.decode("layout-sample", pickle.loads(base64.b64decode(released()[version]["sample_tracker"])))
    uninterrupted = sample_tracker()
    assert stored.encode(restored) == stored.encode(uninterrupted)
    for tracker in (restored, uninterrupted):
        tracker.accept(Event("stopped", 1_764_000_050_000, "layout-sample"), 1_764_000_000_000, SETTINGS)
        tracker.advance(2**62, SETTINGS)
    assert restored.final and restored.record(SETTINGS) == uninterrupted.record(SETTINGS)


def with_sessionizer(**keys: Any) -> dict[str, Any]:
    values = copy.deepcopy(stack_file_values(ROOT / "Pulumi.dev.yaml"))
    values["sessionizer"] = {**values.get("sessionizer", {}), **keys}
    return values


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"allowNonRestoredState": True}, "prism-pipeline:sessionizer.allowNonRestoredState drops the open sessions"),
        ({"allowNonRestoredState": True, "stateMigration": STATE_VERSION - 1},
         "prism-pipeline:sessionizer.allowNonRestoredState drops the open sessions"),
        ({"stateMigration": STATE_VERSION}, "prism-pipeline:sessionizer.stateMigration is read only with"),
    ],
    ids=["on without a migration", "for another version", "a migration left behind"],
)  # fmt: skip
def test_dropping_state_needs_the_migration_of_the_jobs_state_version(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(with_sessionizer(**keys))
    assert str(raised.value).startswith(message)
    assert "sessionizer.stateMigration" in str(raised.value)


def test_the_migration_deploy_of_the_current_version_is_accepted() -> None:
    settings = parse_settings(with_sessionizer(allowNonRestoredState=True, stateMigration=STATE_VERSION))
    assert settings.sessionizer.allow_non_restored_state and settings.sessionizer.state_migration == STATE_VERSION

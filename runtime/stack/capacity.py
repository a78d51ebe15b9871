"""The stack's declared audience (capacity): its peak and what is known of its traffic, and its parser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reader imports the model, which holds these settings
    from runtime.stack.reader import Section

DEFAULT_SESSION_MINUTES = 20.0


@dataclass(frozen=True)
class TrafficOverrides:
    """A stack's own figures for its audience, where the measured profile does not fit it."""

    session_minutes: float  # how long a viewer's session lasts on average: a property of the audience
    events_per_viewer_minute: float | None  # None: from the heartbeat interval and the measured profile
    event_bytes: float | None  # None: measured
    too_late_share: float | None  # None: the player simulator's


@dataclass(frozen=True)
class CapacitySettings:
    """The audience the stack is built for: the program refuses settings that cannot carry it."""

    peak_viewers: int  # concurrent viewers at the busiest minute
    each_region_carries_peak: bool  # either region alone takes every viewer (failover); else half each
    traffic: TrafficOverrides


def parse_capacity(section: Section) -> CapacitySettings:
    traffic_section = section.section("traffic")
    traffic = TrafficOverrides(
        session_minutes=traffic_section.number("sessionMinutes", DEFAULT_SESSION_MINUTES, 0.0, 1_440.0),
        events_per_viewer_minute=traffic_section.optional_number("eventsPerViewerMinute", 0.0, 6_000.0),
        event_bytes=traffic_section.optional_number("eventBytes", 0.0, 1_048_576.0),
        too_late_share=traffic_section.optional_number("tooLateShare", 0.0, 1.0),
    )
    traffic_section.finish()
    capacity = CapacitySettings(
        peak_viewers=section.integer("peakViewers", None, 1),
        each_region_carries_peak=section.boolean("eachRegionCarriesPeak", True),
        traffic=traffic,
    )
    section.finish()
    return capacity

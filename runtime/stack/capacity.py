"""Parser of the stack's declared audience (capacity): its peak and what is known of its traffic."""

from __future__ import annotations

from runtime.stack.model import CapacitySettings, TrafficOverrides
from runtime.stack.reader import Section

DEFAULT_SESSION_MINUTES = 20.0


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

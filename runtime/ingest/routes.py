"""The ingest service's paths, and which of them the internet may reach.

Players post to the event paths (an EPAS SDK posts to the sink URL itself, ``/``); the
rest are for the load balancer's health check and for operators, and the ALB answers them
itself when they come from outside (components/load_balancer.py asks this module).
"""

from __future__ import annotations

from typing import Final

EVENT_PATHS: Final = ("/", "/events")  # POST of events, OPTIONS for CORS preflight
HEALTH_PATH: Final = "/health"  # the process is alive
READY_PATH: Final = "/ready"  # the target group's health check: Kinesis takes writes
METRICS_PATH: Final = "/metrics"  # Prometheus text of the service's internals

"""HTTP glue of the ingest service: EPAS over HTTP in, durable Kinesis records out.

    POST /, POST /events   one EPAS event object or an array of them
    OPTIONS /              CORS preflight (allow-listed origins) and plain OPTIONS
    GET /health            the process is alive
    GET /ready             the Kinesis sink is healthy (503 otherwise, so the ALB drains the task)
    GET /metrics           Prometheus text format

Validation, aggregation and durability live in validation.py and sink.py; this module
only maps them to HTTP answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from runtime.events import RECEIVED_AT_FIELD
from runtime.ingest.aggregation import KINESIS_MAX_RECORD_BYTES
from runtime.ingest.body import BodyLimits, BodyRefused, read_body, request_headers
from runtime.ingest.failed_events import FailedEventsSink, FirehoseClient, failed_event_document
from runtime.ingest.metrics import IngestMetrics
from runtime.ingest.routes import EVENT_PATHS, HEALTH_PATH, METRICS_PATH, READY_PATH
from runtime.ingest.settings import IngestSettings
from runtime.ingest.sink import Backpressure, KinesisSink, SinkUnavailable, sink_settings
from runtime.ingest.transport import KinesisClient
from runtime.ingest.validation import INVALID_EVENT, BodyError, Init, Rejection, Validator, new_event_id, raw_event

log = logging.getLogger("prism.ingest")

EPAS_HEADERS = ("X-EPAS-Event", "X-EPAS-Version")
_json = msgspec.json.Encoder()
_JSON_CONTENT_TYPE = (b"content-type", b"application/json")
# What a KPL aggregate adds around one user record, at most; a raw event must fit a Kinesis record with it.
_MAX_RAW_EVENT_BYTES = KINESIS_MAX_RECORD_BYTES - 1_024


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(_json.encode(body), status_code=status, media_type="application/json", headers=headers)


class JsonAnswer:
    """An acknowledgement, sent straight as its two ASGI messages: a Starlette Response builds
    and checks its header list for each answer, measurable at every request (bench/ingest.py)."""

    __slots__ = ("body", "status_code")

    def __init__(self, status_code: int, document: dict[str, Any]) -> None:
        self.status_code = status_code
        self.body = _json.encode(document)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", b"%d" % len(self.body)), _JSON_CONTENT_TYPE]
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None, **extra: Any
) -> Response:
    # {"valid": false} is what EPAS sinks answer; the rest is our error shape.
    return json_response(status, {"error": code, "message": message, "details": details or [], "valid": False, **extra})


class IngestApp:
    def __init__(
        self,
        settings: IngestSettings,
        kinesis: KinesisClient,
        firehose: FirehoseClient | None,
        metrics: IngestMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or IngestMetrics(settings.stream_name)
        self.metrics.stream_name = self.metrics.stream_name or settings.stream_name
        self.validator = Validator(settings.max_batch_events, settings.max_clock_skew_ms)
        self.sink = KinesisSink(kinesis, sink_settings(settings), self.metrics)
        self.failed_events = FailedEventsSink(firehose, settings.failed_events_stream, self.metrics)
        self._retry_after = {"Retry-After": str(settings.retry_after_seconds)}
        self.body_limits = BodyLimits(settings.max_body_bytes, settings.failed_event_max_bytes)

    # -- lifecycle -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        await self.sink.start()
        await self.failed_events.start()
        tune_garbage_collector(self.settings.gc_gen0_threshold)
        emf = asyncio.create_task(self._emf_loop()) if self.settings.metrics_emf_interval_seconds > 0 else None
        log.info("ingest_started", extra={"stream": self.settings.stream_name, "shards": len(self.sink.shard_map)})
        try:
            yield
        finally:
            # uvicorn has stopped accepting and answered in-flight requests by now;
            # what is still queued gets the drain time to reach Kinesis.
            await self.sink.stop(self.settings.shutdown_drain_seconds)
            await self.failed_events.stop(self.settings.shutdown_drain_seconds)
            if emf is not None:
                emf.cancel()
            log.info("ingest_stopped", extra={"unacknowledged": self.sink.unacknowledged})

    async def _emf_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.metrics_emf_interval_seconds)
            print(self.metrics.emf_line(), flush=True)

    # -- routes ----------------------------------------------------------------

    async def post_events(self, scope: Scope, receive: Receive, send: Send) -> None:
        """POST / and /events. An ASGI app rather than a Starlette request handler: the
        Request object and the handler wrapper around it were a measurable share of the
        service's CPU per request (bench/ingest.py), and this reads only the scope's headers."""
        response: Response | JsonAnswer
        if scope["method"] == "OPTIONS":  # a plain OPTIONS; CORS preflights are answered by the middleware
            response = Response(status_code=204, headers={"Allow": "POST, OPTIONS"})
        else:
            response = await self._post_events(scope, receive)
            self.metrics.requests.answered(response.status_code)
        await response(scope, receive, send)

    async def _post_events(self, scope: Scope, receive: Receive) -> Response | JsonAnswer:
        received_at = time.time()
        started = time.perf_counter()
        headers = request_headers(scope["headers"])
        context = self._context(scope, headers, received_at)

        try:
            body = await read_body(receive, headers, self.body_limits)
        except BodyRefused as refused:
            self._reject_body(refused.code, refused.kept, context, refused.size)
            response = error_response(refused.status, refused.code, refused.message)
            if refused.close:
                response.headers["Connection"] = "close"
            return response

        try:
            parsed = self.validator.parse(body, int(received_at * 1000))
        except BodyError as error:
            self._reject_body(error.code, body, context)
            return error_response(error.status, error.code, error.message)

        records: list[tuple[str, bytes]] = []
        rejections = list(parsed.rejections)
        for position, event in enumerate(parsed.events):
            data = raw_event(event, new_event_id(), context)
            if len(data) > _MAX_RAW_EVENT_BYTES:
                index = position if parsed.batch else None
                rejections.append(Rejection(index, "", "is larger than a Kinesis record allows", data))
                continue
            records.append((event.sessionId, data))
        for rejection in rejections:
            self._reject_event(rejection, context)
        self.metrics.requests.events_per_request.observe(len(records) + len(rejections))
        details = [r.detail() for r in sorted(rejections, key=lambda r: r.index or 0)]

        if not records:
            session = _session_of(parsed.events, body) if not parsed.batch else None
            extra = {"sessionId": session} if session else {}
            return error_response(400, INVALID_EVENT, _rejection_message(rejections), details, **extra)

        try:
            await self.sink.put(records)
        except Backpressure:
            return self._unavailable("overloaded", "too many events wait for Kinesis; retry later")
        except SinkUnavailable as error:
            return self._unavailable("unavailable", str(error))
        self.metrics.requests.accepted(len(records), time.perf_counter() - started)

        if not parsed.batch:
            event = parsed.events[0]
            if isinstance(event, Init):
                return JsonAnswer(
                    200, {"sessionId": event.sessionId, "heartbeatInterval": self.settings.heartbeat_interval_ms}
                )
            return JsonAnswer(200, {"sessionId": event.sessionId, "accepted": 1})
        return JsonAnswer(200, {"accepted": len(records), "rejected": details})

    def _unavailable(self, code: str, message: str) -> Response:
        response = error_response(503, code, message)
        response.headers.update(self._retry_after)
        return response

    async def health(self, _: Request) -> Response:
        return json_response(200, {"status": "ok"})

    async def ready(self, _: Request) -> Response:
        reason = self.sink.unhealthy_reason
        if not reason:
            return json_response(200, {"status": "ready", "unacknowledged": self.sink.unacknowledged})
        return json_response(503, {"status": "not ready", "reason": reason, "unacknowledged": self.sink.unacknowledged})

    async def metrics_endpoint(self, _: Request) -> Response:
        return Response(self.metrics.prometheus(), media_type="text/plain; version=0.0.4")

    # -- helpers ---------------------------------------------------------------

    def _context(self, scope: Scope, headers: Mapping[bytes, bytes], received_at: float) -> dict[str, Any]:
        # The ALB appends the address it saw (the client's, as Global Accelerator
        # preserves it) as the last X-Forwarded-For entry; earlier entries are the client's word.
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        client = scope.get("client")
        client_ip = forwarded.rsplit(",", 1)[-1].strip() if forwarded else (client[0] if client else "")
        return {
            RECEIVED_AT_FIELD: int(received_at * 1000),
            "region": self.settings.region,
            "clientIp": client_ip,
            "userAgent": headers.get(b"user-agent", b"")[:512].decode("latin-1"),
        }

    def _reject_body(self, reason: str, body: bytes, context: dict[str, Any], size: int | None = None) -> None:
        self.metrics.events_rejected.labels(reason).inc()
        self.failed_events.record(
            failed_event_document(
                reason, [], body, self.settings.failed_event_max_bytes, {"server": context}, original_size=size
            )
        )

    def _reject_event(self, rejection: Rejection, context: dict[str, Any]) -> None:
        self.metrics.events_rejected.labels(INVALID_EVENT).inc()
        self.failed_events.record(
            failed_event_document(
                INVALID_EVENT,
                [rejection.detail()],
                rejection.original,
                self.settings.failed_event_max_bytes,
                {"server": context},
            )
        )


def _session_of(events: list[Any], body: bytes) -> str | None:
    """The sessionId of a rejected single event, when it has one, for the EPAS answer."""
    if events:
        return str(events[0].sessionId)
    try:
        document = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    session = document.get("sessionId") if isinstance(document, dict) else None
    return session if isinstance(session, str) else None


def _rejection_message(rejections: list[Rejection]) -> str:
    first = rejections[0]
    where = f"event {first.index}" if first.index is not None else "the event"
    field = f" field {first.field}" if first.field else ""
    more = f" (and {len(rejections) - 1} more)" if len(rejections) > 1 else ""
    return f"{where}{field}: {first.reason}{more}"


def tune_garbage_collector(gen0_threshold: int) -> None:
    """Measured with bench/ingest.py (docs/performance.md, "Ingest service"): Python's default
    collector about tripled the p99 at 64 connections. Requests allocate many short-lived objects, so the default
    gen0 threshold (700) collects every few requests, and older collections walk every
    long-lived object (boto3's service models, the app). Freezing what start-up built
    takes it out of collections; a larger gen0 threshold makes them rare. Reference
    counting still frees almost everything at once; only cycles wait longer."""
    if gen0_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


class AsgiEndpoint:
    """Routes to an ASGI callable as it is: Starlette wraps a function or a method as a request
    handler, and takes anything else for an ASGI app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_app(
    settings: IngestSettings,
    kinesis: KinesisClient,
    firehose: FirehoseClient | None = None,
    metrics: IngestMetrics | None = None,
) -> Starlette:
    ingest = IngestApp(settings, kinesis, firehose, metrics)
    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Content-Type", *EPAS_HEADERS],
                expose_headers=list(EPAS_HEADERS),
                max_age=600,
            )
        )
    app = Starlette(
        routes=[
            *(Route(path, AsgiEndpoint(ingest.post_events), methods=["POST", "OPTIONS"]) for path in EVENT_PATHS),
            Route(HEALTH_PATH, ingest.health, methods=["GET"]),
            Route(READY_PATH, ingest.ready, methods=["GET"]),
            Route(METRICS_PATH, ingest.metrics_endpoint, methods=["GET"]),
        ],
        middleware=middleware,
        lifespan=ingest.lifespan,
    )
    app.state.ingest = ingest
    return app

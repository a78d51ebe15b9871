"""EPAS event validation: a declared msgspec schema plus the checks a schema cannot say.

msgspec was chosen by measurement (bench/validation.py; docs/performance.md, "Validation"):
decoding and validating straight into typed structs ran several times as many events/s as
pydantic v2 on the same schema, and the ingest path spends much of its CPU here.

A body is one event object or an array of them. The fast path decodes the whole body
into typed events at once; only when that fails is the body decoded generically and
each event converted alone, so every invalid event is reported with its index, its
field path and the reason, while the valid ones in the same batch are still accepted.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Annotated, Any, Final

import msgspec

from runtime.events import EVENT_ID_FIELD, SERVER_FIELD, StopReason

# Caps: a session id is a UUID or similar; free text is bounded so one event cannot
# take a whole aggregated record.
SessionId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
ShortText = Annotated[str, msgspec.Meta(max_length=256)]
Text = Annotated[str, msgspec.Meta(max_length=1024)]
Url = Annotated[str, msgspec.Meta(max_length=2048)]
EpochMillis = Annotated[int, msgspec.Meta(ge=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Pixels = Annotated[int, msgspec.Meta(ge=0, le=65535)]

# The answer's error code when every event of a body is invalid: the client's data, not the request.
INVALID_EVENT: Final = "invalid_event"

# No real client clock reads before this (2015-01-01T00:00:00Z): a 0 or a seconds value
# sent as milliseconds is a bug, not an event.
EARLIEST_TIMESTAMP_MS: Final = 1_420_070_400_000


class _Event(msgspec.Struct, tag_field="event", omit_defaults=True, kw_only=True):
    """Base fields of every EPAS event."""

    sessionId: SessionId
    timestamp: EpochMillis
    playhead: float
    duration: float
    shardId: ShortText | None = None
    eventId: ShortText | None = None


class _WithOptionalPayload(_Event, kw_only=True):
    payload: dict[str, Any] | None = None


class Init(_WithOptionalPayload, tag="init"): ...


class Heartbeat(_WithOptionalPayload, tag="heartbeat"): ...


class Loading(_WithOptionalPayload, tag="loading"): ...


class Loaded(_WithOptionalPayload, tag="loaded"): ...


class Playing(_WithOptionalPayload, tag="playing"): ...


class Paused(_WithOptionalPayload, tag="paused"): ...


class Resume(_WithOptionalPayload, tag="resume"): ...


class Buffering(_WithOptionalPayload, tag="buffering"): ...


class Buffered(_WithOptionalPayload, tag="buffered"): ...


class Seeking(_WithOptionalPayload, tag="seeking"): ...


class Seeked(_WithOptionalPayload, tag="seeked"): ...


class MetadataPayload(msgspec.Struct, omit_defaults=True, kw_only=True):
    live: bool | None = None
    contentTitle: Text | None = None
    contentId: ShortText | None = None
    contentUrl: Url | None = None
    drmType: ShortText | None = None
    userId: ShortText | None = None
    deviceId: ShortText | None = None
    deviceModel: ShortText | None = None
    deviceType: ShortText | None = None


class Metadata(_Event, tag="metadata", kw_only=True):
    payload: MetadataPayload | None = None


class BitratePayload(msgspec.Struct, omit_defaults=True, kw_only=True):
    bitrate: NonNegative  # kbps
    width: Pixels | None = None
    height: Pixels | None = None
    videoBitrate: NonNegative | None = None
    audioBitrate: NonNegative | None = None


class BitrateChanged(_Event, tag="bitrate_changed", kw_only=True):
    payload: BitratePayload


class StoppedPayload(msgspec.Struct, kw_only=True):
    reason: StopReason


class Stopped(_Event, tag="stopped", kw_only=True):
    payload: StoppedPayload


class ProblemPayload(msgspec.Struct, omit_defaults=True, kw_only=True):
    code: ShortText | int
    category: ShortText | None = None
    message: Text | None = None
    data: dict[str, Any] | None = None


class ErrorEvent(_Event, tag="error", kw_only=True):
    """Fatal for the playback."""

    payload: ProblemPayload


class WarningEvent(_Event, tag="warning", kw_only=True):
    payload: ProblemPayload


Event = (
    Init | Metadata | Heartbeat | Loading | Loaded | Playing | Paused | Resume | Buffering | Buffered
    | Seeking | Seeked | BitrateChanged | Stopped | ErrorEvent | WarningEvent
)  # fmt: skip

_fast_decoder: Final = msgspec.json.Decoder(Event | list[Event])
_generic_decoder: Final = msgspec.json.Decoder()
_encoder: Final = msgspec.json.Encoder()
_ERROR_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING_FIELD = re.compile(r"missing required field `(?P<field>[^`]+)`")


@dataclass(frozen=True)
class Rejection:
    index: int | None  # position in a batch; None for a single-object body
    field: str  # dotted path inside the event, "" for the event as a whole
    reason: str
    original: bytes  # the event as sent (a batch member re-encoded from the parsed JSON)

    def detail(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs several times as much, at every request
class Parsed:
    events: list[_Event]
    rejections: list[Rejection]
    batch: bool


class BodyError(Exception):
    """The body as a whole is unusable: no event in it can be accepted."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _rejection(error: msgspec.ValidationError, index: int | None, original: bytes) -> Rejection:
    match = _ERROR_AT.match(str(error))
    assert match is not None  # the pattern matches any text
    reason, path = match["reason"], (match["path"] or "").lstrip(".")
    missing = _MISSING_FIELD.search(reason)
    if missing:
        path = f"{path}.{missing['field']}" if path else missing["field"]
    return Rejection(index=index, field=path, reason=reason, original=original)


class Validator:
    def __init__(self, max_batch_events: int, max_clock_skew_ms: int) -> None:
        self.max_batch_events = max_batch_events
        self.max_clock_skew_ms = max_clock_skew_ms

    def parse(self, body: bytes, now_ms: int) -> Parsed:
        try:
            return self._parse(body, now_ms)
        except RecursionError:
            # msgspec decodes and encodes nested values recursively, as deep as Python's stack allows.
            raise BodyError(400, "too_deeply_nested", "the body nests arrays or objects too deeply") from None

    def _parse(self, body: bytes, now_ms: int) -> Parsed:
        try:
            decoded = _fast_decoder.decode(body)
        except msgspec.ValidationError:
            return self._parse_each(body, now_ms)
        except msgspec.DecodeError as error:
            raise BodyError(400, "invalid_json", f"the body is not valid JSON: {error}") from None
        if isinstance(decoded, list):
            self._check_batch_size(len(decoded))
            return self._check_clocks(decoded, None, now_ms, batch=True)
        return self._check_clocks([decoded], [body], now_ms, batch=False)

    def _check_batch_size(self, count: int) -> None:
        if count == 0:
            raise BodyError(400, "empty_batch", "the batch holds no events")
        if count > self.max_batch_events:
            raise BodyError(
                413, "too_many_events", f"a batch holds at most {self.max_batch_events} events, got {count}"
            )

    def _parse_each(self, body: bytes, now_ms: int) -> Parsed:
        try:
            document = _generic_decoder.decode(body)
        except msgspec.DecodeError as error:
            raise BodyError(400, "invalid_json", f"the body is not valid JSON: {error}") from None
        batch = isinstance(document, list)
        items = document if batch else [document]
        if batch:
            self._check_batch_size(len(items))
        elif not isinstance(document, dict):
            raise BodyError(400, "not_an_event", "the body must be an EPAS event object or an array of them")

        events: list[_Event] = []
        originals: list[bytes] = []
        rejections: list[Rejection] = []
        for index, item in enumerate(items):
            original = _encoder.encode(item) if batch else body
            try:
                events.append(msgspec.convert(item, Event))
                originals.append(original)
            except msgspec.ValidationError as error:
                rejections.append(_rejection(error, index if batch else None, original))
        # Indexes of accepted events shift once rejected ones are removed; keep them apart.
        checked = self._check_clocks(events, originals, now_ms, batch=batch, positions=_positions(items, rejections))
        return Parsed(checked.events, sorted(rejections + checked.rejections, key=_order), batch)

    def _check_clocks(
        self,
        events: list[_Event],
        originals: list[bytes] | None,
        now_ms: int,
        *,
        batch: bool,
        positions: list[int] | None = None,
    ) -> Parsed:
        latest = now_ms + self.max_clock_skew_ms
        accepted: list[_Event] = []
        rejections: list[Rejection] = []
        for i, event in enumerate(events):
            if EARLIEST_TIMESTAMP_MS <= event.timestamp <= latest:
                accepted.append(event)
                continue
            reason = (
                f"is more than {self.max_clock_skew_ms} ms ahead of the server clock"
                if event.timestamp > latest
                else "is before 2015-01-01: not epoch milliseconds"
            )
            index = (positions[i] if positions is not None else i) if batch else None
            original = originals[i] if originals is not None else encode_event(event)
            rejections.append(Rejection(index=index, field="timestamp", reason=reason, original=original))
        return Parsed(accepted, rejections, batch)


def _positions(items: list[Any], rejections: list[Rejection]) -> list[int]:
    rejected = {r.index for r in rejections}
    return [i for i in range(len(items)) if i not in rejected]


def _order(rejection: Rejection) -> int:
    return rejection.index if rejection.index is not None else -1


def encode_event(event: _Event) -> bytes:
    return _encoder.encode(event)


_EVENT_ID_MEMBER: Final = f',"{EVENT_ID_FIELD}":'.encode()
_SERVER_MEMBER: Final = f',"{SERVER_FIELD}":'.encode()


def raw_event(event: _Event, event_id: str, server: dict[str, Any]) -> bytes:
    """The raw-stream form of an accepted event (runtime/events.py): the event as encoded, with
    the event id (the client's, else `event_id`) and the server context added as its last members.
    Spliced into the encoded object rather than encoding a dict copy of it: a third less CPU,
    at one per event (bench/ingest.py)."""
    if event.eventId == "":  # sent empty: replaced like a missing one, so the member must not be encoded twice
        event = msgspec.structs.replace(event, eventId=None)
    encoded = _encoder.encode(event)  # an object: "{...}", never empty (an event has required fields)
    added = b"" if event.eventId else _EVENT_ID_MEMBER + _encoder.encode(event_id)
    return encoded[:-1] + added + _SERVER_MEMBER + _encoder.encode(server) + b"}"


_UUID_VARIANT: Final = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_event_id() -> str:
    """A random UUID (version 4) as text, for an event the player sent without an eventId.
    The same 122 random bits as str(uuid.uuid4()), in a quarter of its time, which was
    measurable at one per event (bench/ingest.py)."""
    digits = os.urandom(16).hex()
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{_UUID_VARIANT[digits[16]]}{digits[17:20]}-{digits[20:]}"

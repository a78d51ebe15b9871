"""The ceiling the ingest benchmark compares with: a bare Starlette endpoint on the same stack.

It reads the body, decodes the event with msgspec and answers 200, under the same uvicorn,
httptools and uvloop and the same pinning as the real service: no validation, no Kinesis,
no metrics. What the real service does beyond this is its cost.

    uvicorn --factory bench.bare_ingest:create_app
"""

from __future__ import annotations

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_decode = msgspec.json.Decoder().decode


def create_app() -> Starlette:
    async def post(request: Request) -> Response:
        try:
            document = _decode(await request.body())
        except msgspec.DecodeError:
            return Response(b'{"error":"invalid_json"}', 400, media_type="application/json")
        session = document.get("sessionId") if isinstance(document, dict) else None
        return Response(msgspec.json.encode({"sessionId": session, "accepted": 1}), 200, media_type="application/json")

    async def health(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(routes=[Route("/", post, methods=["POST"]), Route("/health", health)])

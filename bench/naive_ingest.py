"""The baseline the ingest benchmark compares with: one PutRecord per event, no aggregation.

Same validation as the real service, then each event is put on its own and the
request answered when all its PutRecord calls returned: what a straightforward
handler does.

    uvicorn --factory bench.naive_ingest:create_app   (settings from the same INGEST_* variables)
"""

from __future__ import annotations

import asyncio
import time
import uuid

import boto3
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runtime.ingest.settings import load_settings
from runtime.ingest.validation import BodyError, Validator, raw_event


def create_app() -> Starlette:
    settings = load_settings()
    # boto3 itself, as a naive service would use it (the service's own client is asynchronous).
    client = boto3.session.Session().client("kinesis", region_name=settings.region,
                                            endpoint_url=settings.kinesis_endpoint)  # fmt: skip
    validator = Validator(settings.max_batch_events, settings.max_clock_skew_ms)

    def put_one(session_id: str, data: bytes) -> None:
        client.put_record(StreamName=settings.stream_name, Data=data, PartitionKey=session_id)

    async def post(request: Request) -> JSONResponse:
        received = time.time()
        try:
            parsed = validator.parse(await request.body(), int(received * 1000))
        except BodyError as error:
            return JSONResponse({"error": error.code}, error.status)
        context = {"receivedAt": int(received * 1000), "region": settings.region}
        await asyncio.gather(
            *(asyncio.to_thread(put_one, e.sessionId, raw_event(e, str(uuid.uuid4()), context)) for e in parsed.events)
        )
        return JSONResponse({"accepted": len(parsed.events)})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/", post, methods=["POST"]), Route("/health", health)])

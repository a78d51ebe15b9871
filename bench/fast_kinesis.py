"""A fast local Kinesis endpoint for benchmarks: answers PutRecords/PutRecord/ListShards at once.

Not a Kinesis emulator (kinesis-mock is, and is too slow to be a benchmark's sink):
it accepts every record so the service under test, not the sink, is what is measured.

    python -m bench.fast_kinesis PORT [SHARDS]
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import ClassVar

MAX_HASH_KEY = 2**128 - 1


def _shards(count: int) -> list[dict[str, object]]:
    step = (MAX_HASH_KEY + 1) // count
    return [
        {
            "ShardId": f"shardId-{i:012d}",
            "HashKeyRange": {
                "StartingHashKey": str(i * step),
                "EndingHashKey": str(MAX_HASH_KEY if i == count - 1 else (i + 1) * step - 1),
            },
            "SequenceNumberRange": {"StartingSequenceNumber": "0"},
        }
        for i in range(count)
    ]


class KinesisProtocol(asyncio.Protocol):
    shards: ClassVar[list[dict[str, object]]] = []  # set once by serve(), read by every connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4 : head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length :]
            self.transport.write(self.answer(headers.get("x-amz-target", ""), body))

    def answer(self, target: str, body: bytes) -> bytes:
        if target.endswith(".PutRecords"):
            count = json.loads(body)["Records"].__len__()
            result = {
                "FailedRecordCount": 0,
                "Records": [{"SequenceNumber": "1", "ShardId": "shardId-000000000000"}] * count,
            }
        elif target.endswith(".PutRecord"):
            result = {"SequenceNumber": "1", "ShardId": "shardId-000000000000"}
        elif target.endswith(".ListShards"):
            result = {"Shards": self.shards}
        else:
            result = {}
        payload = json.dumps(result).encode()
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )


async def serve(port: int, shards: int) -> None:
    KinesisProtocol.shards = _shards(shards)
    server = await asyncio.get_running_loop().create_server(KinesisProtocol, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 4))

"""Task transcripts in Redis Streams, readable from every orchestratord instance (ORCH-4108).

The instance that relays a task appends what its transcript gained since the last entry (`Chunk`) as one
stream entry, so a burst of tokens is one XADD, not one round trip per token. Another instance follows the
stream with a blocking XREAD and extends its own copy of the transcript with each chunk, in order; its
readers are then served exactly as on the relaying instance, `Last-Event-ID` resumes included. A cancel
asked of one instance reaches the instance that runs the task on one pub/sub channel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from orchestratord.services.transcript import Chunk

from . import codec

START = b"0-0"


class RedisTranscripts:
    """The transcript streams and the cancel channel under `prefix`."""

    def __init__(self, redis: Redis, *, prefix: str = "orch") -> None:
        self._redis = redis
        self._prefix = prefix
        self.cancel_channel = f"{prefix}:cancel"

    def key(self, task_id: str) -> str:
        return f"{self._prefix}:stream:{task_id}"

    async def append(self, task_id: str, chunk: Chunk, *, retention_s: float | None = None) -> bytes:
        """One entry with `chunk`, its id answered; a chunk that ends the task also sets the stream's
        retention."""
        key = self.key(task_id)
        fields: Any = codec.encode_chunk(chunk)
        if retention_s is None:
            added: Any = await self._redis.xadd(key, fields)
            return bytes(added)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(key, fields)
            pipe.expire(key, max(1, round(retention_s)))
            entry_id, _ = await pipe.execute()
        return bytes(entry_id)

    async def read(self, task_id: str, after: bytes, *, block_ms: int | None) -> list[tuple[bytes, Chunk]]:
        """The chunks after entry `after` (`START`: from the first), waiting up to `block_ms` for one
        (None: answer at once)."""
        answer: Any = await self._redis.xread({self.key(task_id): after}, block=block_ms)
        if not answer:
            return []
        return [(entry_id, codec.decode_chunk(fields)) for entry_id, fields in answer[0][1]]

    async def request_cancel(self, task_id: str) -> int:
        """Tells every instance to cancel `task_id` if it runs it; how many instances heard it."""
        heard: int = await self._redis.publish(self.cancel_channel, task_id)
        return heard

    async def cancel_requests(self) -> AsyncIterator[str]:
        """The task ids whose cancel any instance asked for, as they come, until the caller stops."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.cancel_channel)
        try:
            async for message in pubsub.listen():
                if message["type"] == "message":
                    yield message["data"].decode()
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

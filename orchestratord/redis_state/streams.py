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
from .keys import stream_key, task_key
from .tasks import FENCE

START = b"0-0"

# KEYS[1] the task's record, KEYS[2] its stream; ARGV[1] the writer, ARGV[2] the retention ('' while the
# task lives), ARGV[3..] the entry's field, value pairs. Answers the entry id, or 0 when fenced.
APPEND = (
    FENCE
    + """
local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
if ARGV[2] ~= '' then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
return id
"""
)


class RedisTranscripts:
    """The transcript streams and the cancel channel under `prefix`; the blocking reads go through
    `following` (a client of their own, so that many followed streams never hold up commands)."""

    def __init__(self, redis: Redis, *, prefix: str = "orch", following: Redis | None = None) -> None:
        self._redis = redis
        self._following = redis if following is None else following
        self._prefix = prefix
        self.cancel_channel = f"{prefix}:cancel"
        self._append = redis.register_script(APPEND)

    def key(self, task_id: str) -> str:
        return stream_key(self._prefix, task_id)

    async def append(
        self, task_id: str, chunk: Chunk, *, writer: str, retention_s: float | None = None
    ) -> bytes | None:
        """One entry with `chunk`, its id answered; a chunk that ends the task also sets the stream's
        retention. None: fenced, since `writer` no longer owns the task (ORCH-4112)."""
        pairs: list[Any] = [item for pair in codec.encode_chunk(chunk).items() for item in pair]
        retention = "" if retention_s is None else max(1, round(retention_s))
        added = await self._append(
            keys=[task_key(self._prefix, task_id), self.key(task_id)], args=[writer, retention, *pairs]
        )
        return bytes(added) if added else None

    async def read(self, task_id: str, after: bytes, *, block_ms: int | None) -> list[tuple[bytes, Chunk]]:
        """The chunks after entry `after` (`START`: from the first), waiting up to `block_ms` for one
        (None: answer at once)."""
        client = self._redis if block_ms is None else self._following
        answer: Any = await client.xread({self.key(task_id): after}, block=block_ms)
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

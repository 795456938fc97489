"""Batches over a source of message chunks, acknowledged only after their commit, and
pipelined.

The source hands over messages a chunk at a time (streams/intake.py: one fetch of one
partition) and acknowledges a whole batch in one call. The loop only appends; a batch is
prepared (decoded) while the previous one is still being committed, so Python work
overlaps database work (from the moment the commit has sent its rows: ``staged``). At
most one commit is in flight; messages are acknowledged (their offsets become
committable) only once the database has committed the rows, so a crash redelivers
rather than loses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

P = TypeVar("P")


class Source(Protocol):
    def chunks(self) -> AsyncIterator[Sequence[Any]]:
        """Messages as they arrive, a chunk at a time; ends when the source ends."""

    async def ack(self, messages: Sequence[Any]) -> None:
        """The messages are stored: their offsets may be committed to the broker."""


class AckAfterCommit(Generic[P]):
    def __init__(
        self,
        *,
        max_messages: int,
        within: float,
        max_bytes: int | None = None,
        weigh: Callable[[Sequence[Any]], int] | None = None,
        prepare: Callable[[Sequence[Any]], Awaitable[P]],
        commit: Callable[[P], Awaitable[object]],
        staged: Callable[[P], Awaitable[object]] | None = None,
    ) -> None:
        self.max_messages = max_messages
        self.within = within
        # A batch also ends once its messages weigh max_bytes (``weigh``: a chunk's bytes).
        self.max_bytes = max_bytes if weigh is not None and max_bytes is not None else None
        self._weigh = weigh
        self._bytes = 0
        self._prepare = prepare
        self._commit = commit
        self._staged = staged
        self._events: list[Any] = []
        self._first_at = 0.0
        self._inflight: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def clear(self) -> None:
        """Drop what is buffered and not yet being prepared (a rebalance: faust's flow
        control clears every stream buffer, and the broker delivers these again from the
        committed offsets to whichever worker owns their partitions next)."""
        self._events = []
        self._bytes = 0

    def _full(self) -> bool:
        return len(self._events) >= self.max_messages or (
            self.max_bytes is not None and self._bytes >= self.max_bytes)

    async def run(self, source: Source) -> None:
        ticker = asyncio.create_task(self._tick(source))
        # A timed flush that meets a failed commit ends the ticker with that error. The
        # loop below may be waiting for a message that never comes: stop it and raise the
        # error here, so the agent stops the worker (the batch is redelivered) instead of
        # buffering on with nothing left to flush on time.
        runner = asyncio.current_task()

        def stop_on_failure(t: asyncio.Task[None]) -> None:
            if runner is not None and not t.cancelled() and t.exception() is not None:
                runner.cancel()

        ticker.add_done_callback(stop_on_failure)
        try:
            async for chunk in source.chunks():
                if not self._events:
                    self._first_at = time.monotonic()
                self._events += chunk
                if self._weigh is not None:
                    self._bytes += self._weigh(chunk)
                while self._events and self._full():
                    await self.flush(source)
        except asyncio.CancelledError:
            failed = ticker.exception() if ticker.done() and not ticker.cancelled() else None
            if failed is None or runner is None:
                raise
            runner.uncancel()
            raise failed from None
        finally:
            ticker.cancel()
            if self._inflight is not None and not self._inflight.done():
                await asyncio.shield(self._inflight)

    async def _tick(self, source: Source) -> None:
        while True:
            await asyncio.sleep(self.within / 2)
            if self._events and time.monotonic() - self._first_at >= self.within:
                await self.flush(source)

    async def flush(self, source: Source) -> None:
        async with self._lock:
            if not self._events:
                return
            # At most max_messages; the rest keeps the age of the oldest (it flushes no
            # later than ``within`` after its own arrival).
            events = self._events[:self.max_messages]
            self._events = rest = self._events[self.max_messages:]
            self._bytes = self._weigh(rest) if rest and self._weigh is not None else 0
            prepared = await self._prepare(events)
            if self._inflight is not None:
                await self._inflight  # one commit in flight; re-raises its failure
            self._inflight = asyncio.create_task(self._commit_and_ack(source, prepared, events))
            if self._staged is not None:
                # Let the commit send its rows before the next prepare takes the CPU: a
                # prepare is one long stretch of Python, and a COPY that only advances
                # between its slices would leave the database idle. The commit's own
                # failure is raised where it is awaited (above, or in run()).
                staged = asyncio.ensure_future(self._staged(prepared))
                await asyncio.wait({staged, self._inflight}, return_when=asyncio.FIRST_COMPLETED)
                staged.cancel()

    async def _commit_and_ack(self, source: Source, prepared: P, events: list[Any]) -> None:
        await self._commit(prepared)
        await source.ack(events)

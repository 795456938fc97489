"""Batches over a faust stream, acknowledged only after their commit, and pipelined.

faust's ``take_events`` costs several tasks per message and keeps decode and database
write in series. Here the agent loop only appends; a batch is prepared (decoded) while
the previous one is still being committed, so Python work overlaps database work (from
the moment the commit has sent its rows: ``staged``). At most one commit is in flight;
events are acknowledged (their offsets become committable) only once the database has
committed the rows, so a crash redelivers rather than loses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

P = TypeVar("P")


class AckAfterCommit(Generic[P]):
    def __init__(
        self,
        *,
        max_messages: int,
        within: float,
        prepare: Callable[[Sequence[Any]], Awaitable[P]],
        commit: Callable[[P], Awaitable[object]],
        staged: Callable[[P], Awaitable[object]] | None = None,
    ) -> None:
        self.max_messages = max_messages
        self.within = within
        self._prepare = prepare
        self._commit = commit
        self._staged = staged
        self._events: list[Any] = []
        self._first_at = 0.0
        self._inflight: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def run(self, stream: Any) -> None:
        manual = stream.noack()
        ticker = asyncio.create_task(self._tick(manual))
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
            async for event in manual.events():
                if not self._events:
                    self._first_at = time.monotonic()
                self._events.append(event)
                if len(self._events) >= self.max_messages:
                    await self.flush(manual)
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

    async def _tick(self, stream: Any) -> None:
        while True:
            await asyncio.sleep(self.within / 2)
            if self._events and time.monotonic() - self._first_at >= self.within:
                await self.flush(stream)

    async def flush(self, stream: Any) -> None:
        async with self._lock:
            if not self._events:
                return
            events, self._events = self._events, []
            prepared = await self._prepare(events)
            if self._inflight is not None:
                await self._inflight  # one commit in flight; re-raises its failure
            self._inflight = asyncio.create_task(self._commit_and_ack(stream, prepared, events))
            if self._staged is not None:
                # Let the commit send its rows before the next prepare takes the CPU: a
                # prepare is one long stretch of Python, and a COPY that only advances
                # between its slices would leave the database idle. The commit's own
                # failure is raised where it is awaited (above, or in run()).
                staged = asyncio.ensure_future(self._staged(prepared))
                await asyncio.wait({staged, self._inflight}, return_when=asyncio.FIRST_COMPLETED)
                staged.cancel()

    async def _commit_and_ack(self, stream: Any, prepared: P, events: list[Any]) -> None:
        await self._commit(prepared)
        for event in events:
            await stream.ack(event)

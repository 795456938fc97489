"""The batcher's contract (streams/batcher.py), with no broker and no database.

A batch is at most ``max_messages`` events, or what arrived within ``within`` seconds
of its first event; batches keep arrival order; one commit is in flight at a time while
the next batch is prepared; an event is acknowledged only after the commit of its batch
returned, so a failed commit acknowledges nothing (the broker redelivers) and its error
reaches the agent (streams/app.py stops the worker on it).

The stream is a stand-in for the worker's source (streams/intake.py: ``chunks()`` of
fetched messages, ``ack()`` of a committed batch), prepare and commit are recorded. Time
is driven by the test: the batcher reads ``time.monotonic`` and sleeps with
``asyncio.sleep`` in its ticker, so both are replaced in the module by a clock the test
sets and a ticker it advances one wake-up at a time (no real waiting).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from streams import batcher as batcher_module
from streams.batcher import AckAfterCommit

_END = object()
GUARD = 5.0  # seconds: a guard against a hang, never an assertion about speed


class CommitFailed(Exception):
    pass


class Stream:
    """The batcher's source: ``chunks()`` of messages and ``ack()`` of a batch."""

    def __init__(self, committed: Callable[[str], bool]) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._committed = committed
        self.delivered = 0
        self.acked: list[str] = []
        self.acked_uncommitted: list[str] = []
        self.ack_calls = 0

    async def chunks(self) -> AsyncIterator[list[str]]:
        while (item := await self._queue.get()) is not _END:
            assert isinstance(item, list)
            self.delivered += len(item)
            yield item

    async def ack(self, events: Sequence[str]) -> None:
        self.ack_calls += 1
        for event in events:
            if not self._committed(event):
                self.acked_uncommitted.append(event)
            self.acked.append(event)

    def send(self, *events: str) -> None:
        """Each event a chunk of its own."""
        for e in events:
            self._queue.put_nowait([e])

    def send_chunk(self, *events: str) -> None:
        """The events in one chunk (one fetch)."""
        self._queue.put_nowait(list(events))

    def end(self) -> None:
        self._queue.put_nowait(_END)


class Store:
    """Prepare and commit as the ingestor does them, recorded; a commit can be held back
    (``hold``) or made to fail (``fail``) by its number (0 is the first), and the point
    where a commit has sent its rows (``staged``) is released by the test (``stage``)."""

    def __init__(self) -> None:
        self.prepared: list[list[str]] = []
        self.started: list[list[str]] = []
        self.committed: list[list[str]] = []
        self.holds: dict[int, asyncio.Event] = {}
        self.stages: dict[int, asyncio.Event] = {}
        self.fail: set[int] = set()

    def hold(self, n: int) -> asyncio.Event:
        return self.holds.setdefault(n, asyncio.Event())

    def stage(self, n: int) -> asyncio.Event:
        return self.stages.setdefault(n, asyncio.Event())

    def has_committed(self, event: str) -> bool:
        return any(event in batch for batch in self.committed)

    async def prepare(self, events: Sequence[Any]) -> list[str]:
        batch = [str(e) for e in events]
        self.prepared.append(batch)
        return batch

    async def commit(self, batch: list[str]) -> None:
        n = len(self.started)
        self.started.append(batch)
        if n in self.holds:
            await self.holds[n].wait()
        if n in self.fail:
            raise CommitFailed(f"commit {n}")
        self.committed.append(batch)

    async def staged(self, batch: list[str]) -> None:
        await self.stage(self.prepared.index(batch)).wait()


class Clock:
    """The batcher's ``time.monotonic``, set by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class Ticker:
    """The ticker's ``asyncio.sleep``: it sleeps until the test wakes it."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._wake: asyncio.Future[None] | None = None
        self._asleep = asyncio.Event()

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        self._wake = asyncio.get_running_loop().create_future()
        self._asleep.set()
        await self._wake

    async def tick(self, *, settle: bool = True) -> None:
        """Wake the ticker once; with ``settle``, return once it sleeps again (its check,
        and the flush it started, are done)."""
        await asyncio.wait_for(self._asleep.wait(), GUARD)
        self._asleep.clear()
        assert self._wake is not None
        self._wake.set_result(None)
        if settle:
            await asyncio.wait_for(self._asleep.wait(), GUARD)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(batcher_module, "time", SimpleNamespace(monotonic=c.monotonic))
    return c


@pytest.fixture
def ticker(monkeypatch: pytest.MonkeyPatch) -> Ticker:
    t = Ticker()

    class AsyncioWithManualSleep:
        sleep = staticmethod(t.sleep)

        def __getattr__(self, name: str) -> Any:
            return getattr(asyncio, name)

    monkeypatch.setattr(batcher_module, "asyncio", AsyncioWithManualSleep())
    return t


def setup(max_messages: int, within: float = 3600.0, *, staged: bool = False,
          max_bytes: int | None = None) -> tuple[AckAfterCommit[list[str]], Store, Stream]:
    store = Store()
    stream = Stream(store.has_committed)
    b = AckAfterCommit(max_messages=max_messages, within=within, prepare=store.prepare,
                       commit=store.commit, staged=store.staged if staged else None,
                       max_bytes=max_bytes, weigh=_weigh if max_bytes is not None else None)
    return b, store, stream


def _weigh(chunk: Sequence[str]) -> int:
    return sum(map(len, chunk))


async def until(what: str, condition: Callable[[], bool]) -> None:
    """Let the event loop run until ``condition`` holds (a guard, not a timing check)."""
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0)
    try:
        await asyncio.wait_for(poll(), GUARD)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def settle() -> None:
    """Give every runnable task many turns: what has not happened by then waits for
    something the test has not done yet."""
    for _ in range(50):
        await asyncio.sleep(0)


def events(first: int, n: int) -> list[str]:
    return [f"e{i}" for i in range(first, first + n)]


async def test_full_batches_of_max_messages_keep_arrival_order() -> None:
    b, store, stream = setup(max_messages=3)
    run = asyncio.create_task(b.run(stream))
    stream.send(*events(0, 8))
    await until("two batches committed", lambda: len(store.committed) == 2)
    await until("two batches acknowledged", lambda: len(stream.acked) == 6)
    await settle()
    assert stream.ack_calls == 2  # one acknowledgement per committed batch
    assert store.prepared == [["e0", "e1", "e2"], ["e3", "e4", "e5"]]
    assert store.committed == store.prepared
    assert stream.acked == events(0, 6)
    stream.end()
    await asyncio.wait_for(run, GUARD)
    # e6 and e7 made no full batch and their time had not come: never committed, so
    # never acknowledged (the broker delivers them again after a restart).
    assert store.prepared == [["e0", "e1", "e2"], ["e3", "e4", "e5"]]
    assert stream.acked == events(0, 6)
    assert stream.acked_uncommitted == []


async def test_nothing_is_acknowledged_until_the_commit_returned() -> None:
    b, store, stream = setup(max_messages=2)
    release = store.hold(0)
    run = asyncio.create_task(b.run(stream))
    stream.send("e0", "e1")
    await until("the commit started", lambda: len(store.started) == 1)
    await settle()
    assert stream.acked == []
    release.set()
    await until("acknowledged", lambda: len(stream.acked) == 2)
    assert stream.acked == ["e0", "e1"]
    assert stream.acked_uncommitted == []  # every ack came after its batch's commit
    stream.end()
    await asyncio.wait_for(run, GUARD)


async def test_the_next_batch_is_prepared_during_a_commit_but_committed_after_it() -> None:
    b, store, stream = setup(max_messages=2)
    release = store.hold(0)
    run = asyncio.create_task(b.run(stream))
    stream.send(*events(0, 6))
    await until("the second batch prepared", lambda: len(store.prepared) == 2)
    await settle()
    # One commit in flight: the second batch is decoded meanwhile but waits, and so does
    # everything behind it (backpressure instead of an unbounded queue of commits).
    assert store.started == [["e0", "e1"]]
    assert len(store.prepared) == 2 and stream.delivered == 4
    assert stream.acked == []
    release.set()
    await until("three batches acknowledged", lambda: len(stream.acked) == 6)
    assert store.committed == [["e0", "e1"], ["e2", "e3"], ["e4", "e5"]]
    assert stream.acked == events(0, 6)
    assert stream.acked_uncommitted == []
    stream.end()
    await asyncio.wait_for(run, GUARD)


async def test_the_next_prepare_waits_until_the_commit_has_staged_its_rows() -> None:
    b, store, stream = setup(max_messages=2, staged=True)
    done = store.hold(0)
    run = asyncio.create_task(b.run(stream))
    stream.send(*events(0, 4))
    await until("the first commit started", lambda: len(store.started) == 1)
    await settle()
    assert store.prepared == [["e0", "e1"]]  # the first commit still sends its rows
    store.stage(0).set()  # the first commit has sent its rows
    await until("the second batch prepared", lambda: len(store.prepared) == 2)
    await settle()
    assert store.started == [["e0", "e1"]] and stream.acked == []
    store.stage(1).set()
    done.set()
    await until("both acknowledged", lambda: len(stream.acked) == 4)
    assert store.committed == [["e0", "e1"], ["e2", "e3"]]
    assert stream.acked_uncommitted == []
    stream.end()
    await asyncio.wait_for(run, GUARD)


async def test_a_failed_commit_acknowledges_nothing_and_ends_the_run_with_its_error() -> None:
    b, store, stream = setup(max_messages=2)
    store.fail.add(0)
    run = asyncio.create_task(b.run(stream))
    stream.send(*events(0, 6))
    with pytest.raises(CommitFailed, match="commit 0"):
        await asyncio.wait_for(run, GUARD)
    # The failure is raised where the next batch would be committed: that batch is not
    # committed either, and no event of either is acknowledged (all are redelivered).
    assert store.started == [["e0", "e1"]]
    assert store.committed == []
    assert stream.acked == []


async def test_shutdown_waits_for_the_commit_in_flight_and_acknowledges_its_events() -> None:
    b, store, stream = setup(max_messages=2)
    release = store.hold(0)
    run = asyncio.create_task(b.run(stream))
    stream.send("e0", "e1", "e2")
    await until("the commit started", lambda: len(store.started) == 1)
    stream.end()
    await settle()
    assert not run.done()  # the stream has ended, the commit has not
    release.set()
    await asyncio.wait_for(run, GUARD)
    assert stream.acked == ["e0", "e1"]
    assert store.prepared == [["e0", "e1"]]  # e2: never committed, never acknowledged


async def test_a_commit_failing_after_the_stream_ended_is_raised_from_the_run() -> None:
    b, store, stream = setup(max_messages=2)
    release = store.hold(0)
    store.fail.add(0)
    run = asyncio.create_task(b.run(stream))
    stream.send("e0", "e1")
    await until("the commit started", lambda: len(store.started) == 1)
    stream.end()
    await settle()
    release.set()
    with pytest.raises(CommitFailed):
        await asyncio.wait_for(run, GUARD)
    assert stream.acked == []


async def test_cancelling_the_run_stops_it_without_acknowledging_the_buffered_events() -> None:
    # How faust stops an agent: the cancellation is not taken for a failure, and what was
    # buffered but not committed stays unacknowledged (redelivered to the next owner).
    b, store, stream = setup(max_messages=3)
    run = asyncio.create_task(b.run(stream))
    stream.send(*events(0, 5))
    await until("one batch acknowledged, two buffered",
                lambda: len(stream.acked) == 3 and stream.delivered == 5)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, GUARD)
    assert store.prepared == [events(0, 3)]
    assert stream.acked == events(0, 3)


async def test_an_explicit_flush_commits_a_partial_batch_and_an_empty_one_does_nothing() -> None:
    b, store, stream = setup(max_messages=100)
    await b.flush(stream)  # nothing buffered: no prepare, no commit
    assert store.prepared == [] and store.started == []
    run = asyncio.create_task(b.run(stream))
    stream.send("e0", "e1")
    await until("both buffered", lambda: stream.delivered == 2)
    await b.flush(stream)  # what a shutdown hook would do
    await until("acknowledged", lambda: len(stream.acked) == 2)
    assert store.committed == [["e0", "e1"]]
    await b.flush(stream)  # the buffer is empty again
    stream.end()
    await asyncio.wait_for(run, GUARD)
    assert store.prepared == [["e0", "e1"]]
    assert stream.acked == ["e0", "e1"]


async def test_an_idle_stream_prepares_and_commits_nothing(clock: Clock, ticker: Ticker) -> None:
    b, store, stream = setup(max_messages=10, within=2.0)
    run = asyncio.create_task(b.run(stream))
    for _ in range(3):
        clock.now += 5.0
        await ticker.tick()
    stream.end()
    await asyncio.wait_for(run, GUARD)
    assert ticker.delays and set(ticker.delays) == {1.0}  # checks every within/2
    assert store.prepared == [] and store.started == [] and stream.acked == []


async def test_a_partial_batch_is_flushed_within_seconds_after_its_first_event(
    clock: Clock, ticker: Ticker
) -> None:
    b, store, stream = setup(max_messages=100, within=8.0)
    run = asyncio.create_task(b.run(stream))
    stream.send("e0")
    await until("e0 buffered", lambda: stream.delivered == 1)
    clock.now += 5.0
    stream.send("e1")
    await until("e1 buffered", lambda: stream.delivered == 2)
    await ticker.tick()
    clock.now += 2.75  # 7.75 s after e0
    await ticker.tick()
    assert store.prepared == []
    clock.now += 0.25  # 8 s after e0 (3 s after e1): the batch's age is its first event's
    await ticker.tick()
    assert store.prepared == [["e0", "e1"]]
    await until("acknowledged", lambda: stream.acked == ["e0", "e1"])
    # A new batch starts its own time with its first event.
    clock.now += 1.0
    stream.send("e2")
    await until("e2 buffered", lambda: stream.delivered == 3)
    clock.now += 7.5
    await ticker.tick()
    assert store.prepared == [["e0", "e1"]]
    clock.now += 0.5
    await ticker.tick()
    assert store.prepared == [["e0", "e1"], ["e2"]]
    await until("acknowledged", lambda: stream.acked == ["e0", "e1", "e2"])
    stream.end()
    await asyncio.wait_for(run, GUARD)
    assert set(ticker.delays) == {4.0}  # the age is checked every within/2
    assert stream.acked_uncommitted == []


async def test_a_burst_larger_than_a_batch_is_split_and_the_rest_goes_on_time(
    clock: Clock, ticker: Ticker
) -> None:
    b, store, stream = setup(max_messages=4, within=10.0)
    stream.send(*events(0, 10))  # all there before the batcher starts
    run = asyncio.create_task(b.run(stream))
    await until("ten delivered, two batches committed",
                lambda: stream.delivered == 10 and len(store.committed) == 2)
    assert store.prepared == [events(0, 4), events(4, 4)]
    clock.now += 10.0
    await ticker.tick()
    await until("all acknowledged", lambda: len(stream.acked) == 10)
    assert store.prepared == [events(0, 4), events(4, 4), events(8, 2)]
    assert all(len(batch) <= 4 for batch in store.prepared)
    assert stream.acked == events(0, 10)
    stream.end()
    await asyncio.wait_for(run, GUARD)


async def test_a_timed_flush_that_meets_a_failed_commit_ends_the_run_with_its_error(
    clock: Clock, ticker: Ticker
) -> None:
    # A quiet stream: batches only ever leave on time, through the ticker. When a commit
    # fails, the next timed flush meets the failure; the run must end with it (the agent
    # then stops the worker and the broker redelivers) instead of going on buffering
    # events that no batch will ever take.
    b, store, stream = setup(max_messages=100, within=10.0)
    store.fail.add(0)
    run = asyncio.create_task(b.run(stream))
    stream.send("e0")
    await until("e0 buffered", lambda: stream.delivered == 1)
    clock.now += 10.0
    await ticker.tick()
    await until("the first commit failed", lambda: len(store.started) == 1)
    stream.send("e1")
    await until("e1 buffered", lambda: stream.delivered == 2)
    clock.now += 10.0
    await ticker.tick(settle=False)
    done, _ = await asyncio.wait({run}, timeout=GUARD)  # the run must end by itself
    if not done:
        run.cancel()
    assert done, "the run went on buffering after its batch's commit had failed"
    with pytest.raises(CommitFailed, match="commit 0"):
        run.result()
    assert store.committed == []
    assert stream.acked == []


async def test_a_chunk_is_split_into_batches_of_at_most_max_messages() -> None:
    b, store, stream = setup(max_messages=4)
    run = asyncio.create_task(b.run(stream))
    stream.send_chunk(*events(0, 10))  # one fetch of ten messages
    await until("two batches acknowledged", lambda: len(stream.acked) == 8)
    await settle()
    assert store.prepared == [events(0, 4), events(4, 4)]
    assert stream.ack_calls == 2
    await b.flush(stream)
    await until("the rest acknowledged", lambda: len(stream.acked) == 10)
    assert store.prepared == [events(0, 4), events(4, 4), events(8, 2)]
    assert stream.acked == events(0, 10) and stream.acked_uncommitted == []
    stream.end()
    await asyncio.wait_for(run, GUARD)


async def test_a_batch_also_ends_at_max_bytes() -> None:
    # Events "e0".."e9" weigh 2 bytes each: 7 bytes are reached with the fourth event of
    # the fetch, so the batch is flushed then, well below max_messages.
    b, store, stream = setup(max_messages=100, max_bytes=7)
    run = asyncio.create_task(b.run(stream))
    stream.send("e0", "e1", "e2")  # 6 bytes: not yet
    await settle()
    assert store.prepared == []
    stream.send("e3")  # 8 bytes
    await until("one batch acknowledged", lambda: len(stream.acked) == 4)
    assert store.prepared == [events(0, 4)]
    stream.send_chunk(*events(4, 4))  # 8 bytes again, in one chunk
    await until("the second batch acknowledged", lambda: len(stream.acked) == 8)
    assert store.prepared == [events(0, 4), events(4, 4)]
    stream.end()
    await asyncio.wait_for(run, GUARD)


async def test_clear_drops_what_is_buffered_and_it_is_never_acknowledged() -> None:
    # A rebalance: faust's flow control clears the buffers (streams/app.py registers the
    # batcher); what was buffered is redelivered by the broker, so it must be neither
    # stored nor acknowledged here. A batch already being committed goes through.
    b, store, stream = setup(max_messages=3)
    release = store.hold(0)
    run = asyncio.create_task(b.run(stream))
    stream.send(*events(0, 5))
    await until("the first commit started, two buffered",
                lambda: len(store.started) == 1 and stream.delivered == 5)
    b.clear()
    release.set()
    await until("the first batch acknowledged", lambda: len(stream.acked) == 3)
    stream.send("e5")
    await until("e5 buffered", lambda: stream.delivered == 6)
    await b.flush(stream)
    await until("e5 acknowledged", lambda: len(stream.acked) == 4)
    assert store.prepared == [events(0, 3), ["e5"]]
    assert stream.acked == [*events(0, 3), "e5"]
    stream.end()
    await asyncio.wait_for(run, GUARD)

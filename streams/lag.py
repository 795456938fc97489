"""Consumer lag of this worker: per assigned partition, highwater − position.

Sampled from the worker's own consumer (``consumer.highwater(tp)`` is the last offset the
broker reported with a fetch; ``position(tp)`` the next offset this consumer will fetch),
not from the broker's ``end_offsets``, which some Kafka-compatible brokers get wrong and
which would cost a request per partition per sample.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from citybrain.kernel import metrics

log = logging.getLogger(__name__)

_published: set[tuple[str, str]] = set()


async def sample(consumer: Any, *, timeout: float = 2.0,
                 wall_clock: Callable[[], float] = time.time) -> dict[tuple[str, int], int]:
    """Measure and publish the lag of every assigned partition; return it.

    Partitions whose highwater or position is not known yet (nothing fetched since the
    assignment) are left out rather than reported as 0. Partitions no longer assigned
    lose their series, so a revoked partition's last value does not linger.
    """
    lags: dict[tuple[str, int], int] = {}
    for tp in sorted(consumer.assignment()):
        highwater = consumer.highwater(tp)
        if highwater is None:
            continue
        try:
            position = await asyncio.wait_for(consumer.position(tp), timeout)
        except TimeoutError:
            continue
        if position is None:
            continue
        lags[(tp.topic, tp.partition)] = max(int(highwater) - int(position), 0)
    labels = {(topic, str(partition)) for topic, partition in lags}
    for stale in _published - labels:
        metrics.CONSUMER_LAG.remove(*stale)
    for (topic, partition), lag in lags.items():
        metrics.CONSUMER_LAG.labels(topic, str(partition)).set(lag)
    _published.clear()
    _published.update(labels)
    metrics.LAG_SAMPLED_AT.set(wall_clock())
    return lags

"""Topic layout, created up front (auto-created topics get the broker's default layout)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from citybrain.kernel.errors import BrokerError
from citybrain.kernel.settings import FAMILIES, Settings

log = logging.getLogger(__name__)


def layout(settings: Settings) -> dict[str, int]:
    topics = {settings.topic(f): settings.topic_partitions for f in FAMILIES}
    topics[settings.dead_letter_topic] = 1
    topics[settings.state_change_topic] = settings.topic_partitions
    return topics


async def ensure_topics(bootstrap: str, settings: Settings, *, attempts: int = 20) -> None:
    wanted = layout(settings)
    for attempt in range(attempts):
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [NewTopic(t, n, 1) for t, n in wanted.items() if t not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):  # another worker was first
                    await admin.create_topics(missing)
            return
        except KafkaError as exc:
            log.warning("broker not ready (%s); retrying", exc)
            await asyncio.sleep(min(0.2 * (attempt + 1), 2.0))
        finally:
            await admin.close()
    raise BrokerError(f"cannot create topics on {bootstrap}; check CITYBRAIN_KAFKA_BOOTSTRAP")

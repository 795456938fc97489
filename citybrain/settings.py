"""The only reader of the environment: one frozen settings object (prefix CITYBRAIN_).

Components receive a Settings instance; none of them import os.environ.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

FAMILIES: tuple[str, ...] = ("iot", "video", "cloud", "security", "probe", "data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYBRAIN_", frozen=True, extra="ignore")

    # Absent Kafka or database settings mean: start the embedded default.
    kafka_bootstrap: str | None = None
    database_url: str | None = None
    database_schema: str = Field(default="citybrain", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    timezone: str = "Asia/Shanghai"
    data_dir: Path = Path(".citybrain")

    topic_prefix: str = Field(default="citybrain", pattern=r"^[A-Za-z0-9._-]+$")
    topic_partitions: int = Field(default=4, ge=1, le=256)
    dlq_topic: str | None = None
    state_topic: str | None = None

    # Ingest batching: one COPY per batch of messages.
    batch_max_messages: int = Field(default=1000, ge=1)
    batch_within_seconds: float = Field(default=0.2, gt=0)
    max_message_bytes: int = Field(default=1_048_576, ge=1024)
    # Timestamps further in the future than this (vs. processing time), or older than
    # max_event_age_days, are absurd and dead-lettered.
    max_future_skew_seconds: float = Field(default=300.0, ge=0)
    max_event_age_days: float = Field(default=400.0, gt=0)
    db_retry_max_seconds: float = Field(default=10.0, gt=0)

    # Liveness: offline after expected interval × tolerance with no heartbeat.
    liveness_tolerance: float = Field(default=2.5, ge=1.0)
    # A whole feed silent for this long (event time) is an ingestion gap: unknown, not offline.
    ingestion_gap_seconds: float = Field(default=300.0, gt=0)
    # Heartbeats of one asset in a batch collapse into runs; a silence longer than this
    # starts a new run. Must not exceed the smallest window (interval × tolerance).
    liveness_run_split_seconds: float = Field(default=15.0, gt=0)
    # A source partition silent this long (processing time) stops holding the feed's
    # event-time watermark back; the monitor re-checks every liveness_tick_seconds.
    liveness_idle_source_seconds: float = Field(default=30.0, gt=0)
    liveness_tick_seconds: float = Field(default=5.0, gt=0)

    worker_id: str = "worker-1"
    consumer_group: str = "citybrain-ingest"
    broker_session_timeout: float = Field(default=10.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    def topic(self, family: str) -> str:
        return f"{self.topic_prefix}.{family}"

    @property
    def dead_letter_topic(self) -> str:
        return self.dlq_topic or f"{self.topic_prefix}.dlq"

    @property
    def state_change_topic(self) -> str:
        return self.state_topic or f"{self.topic_prefix}.state"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def all_topics(self) -> list[str]:
        return [self.topic(f) for f in FAMILIES] + [
            self.dead_letter_topic,
            self.state_change_topic,
        ]

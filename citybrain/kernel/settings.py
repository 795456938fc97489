"""The only reader of the environment: one frozen settings object (prefix CITYBRAIN_).

Components receive a Settings instance; none of them import os.environ.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from citybrain.kernel.i18n import DEFAULT_LANGUAGE, Catalogue, Language

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

FAMILIES: tuple[str, ...] = (
    "iot", "video", "cloud", "security", "probe", "data", "usage", "rating", "hotline",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYBRAIN_", frozen=True, extra="ignore")

    # Absent Kafka or database settings mean: start the embedded default.
    kafka_bootstrap: str | None = None
    database_url: str | None = None
    database_schema: str = Field(default="citybrain", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # Storage of a schema's first migration (citybrain/kernel/store.py), kept from then on:
    # "auto" uses TimescaleDB when the server can run it (creating the extension if it is
    # available and preloaded), else plain PostgreSQL, with a warning when TimescaleDB is
    # installed but not preloaded; "timescaledb" fails instead of falling back;
    # "postgresql" never uses the extension.
    storage: Literal["auto", "timescaledb", "postgresql"] = "auto"
    timezone: str = "Asia/Shanghai"
    # The language of everything a person reads (CLI output, reports, notifications,
    # pages, dashboards): message catalogues in citybrain/kernel/i18n.py. Ids, JSON keys,
    # API fields and metric names stay English whatever this says.
    language: Literal["zh-CN", "en"] = "zh-CN"
    data_dir: Path = Path(".citybrain")

    topic_prefix: str = Field(default="citybrain", pattern=r"^[A-Za-z0-9._-]+$")
    topic_partitions: int = Field(default=4, ge=1, le=256)
    dlq_topic: str | None = None
    state_topic: str | None = None

    # Ingest batching: one COPY per batch of messages, of at most batch_max_messages or
    # about batch_max_bytes of message values, whichever comes first (20,000 single
    # events; about 800 envelopes of 100). Each topic buffers at most four batches' bytes.
    batch_max_messages: int = Field(default=20_000, ge=1)
    batch_max_bytes: int = Field(default=16 << 20, ge=1024)
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
    # The liveness derivation (streams/derivation.py) folds the stored events up to the
    # slowest source partition still delivering, less liveness_delay_seconds (a little
    # disorder inside a partition is then not late evidence; more, such as a gateway's
    # buffered minute, is folded again from a recent checkpoint); a partition silent for
    # liveness_idle_source_seconds (processing time) stops holding it back. It runs every
    # liveness_tick_seconds.
    liveness_idle_source_seconds: float = Field(default=30.0, gt=0)
    liveness_tick_seconds: float = Field(default=1.0, gt=0)
    liveness_delay_seconds: float = Field(default=1.0, ge=0)
    # Evidence up to this far behind the derivation corrects the intervals it falls into
    # (they are derived again from a checkpoint); further behind, it is stored and counted
    # but never folded. Checkpoints are kept for this long, one every
    # liveness_checkpoint_seconds of event time; the fold reads liveness_chunk_seconds of
    # events per query.
    liveness_lateness_seconds: float = Field(default=6 * 3600.0, gt=0)
    liveness_checkpoint_seconds: float = Field(default=60.0, gt=0)
    liveness_chunk_seconds: float = Field(default=900.0, gt=0)

    # Reports / scorecard: a YAML file mapping indicator id → weight in its key's composite
    # score, overriding the catalogue's default weights (absent: catalogue weights only).
    score_weights_file: Path | None = None

    # HTTP API (citybrain api): where it listens, the public address used in links that
    # notifications carry (incident and acknowledge links), its database pool.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8600, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8600"
    api_pool_size: int = Field(default=8, ge=1)
    # Bounded work per request (any token, an evaluator's included, must not be able to
    # exhaust the database server or the pool). api_max_window_days: the longest indicator
    # or report window, counted in wall-clock days of the report's zone — 366 fits a
    # calendar year, a leap year too, in any zone (a DST change moves no wall-clock day);
    # the SQL's temporary files grow with about the square of the days (a year ≈ 19 MiB,
    # five ≈ 488 MiB). api_statement_timeout_seconds and api_temp_file_limit_mb bound
    # each statement of an API connection (and of a report's parallel connections); a
    # query stopped by either is a 503 naming the limit. temp_file_limit needs a role
    # that may set it (a superuser, or PostgreSQL 15+ `GRANT SET ON PARAMETER
    # temp_file_limit TO <role>`); otherwise the API warns at start and runs without it.
    # api_pool_timeout_seconds: how long a request waits for a free connection before a
    # 503. api_max_body_bytes: the largest request body, refused with 413 before the
    # token is checked or the body parsed (the largest legitimate body, a policy of
    # 20 steps with its group channels, is a few KiB).
    api_max_window_days: int = Field(default=366, ge=1, le=3660)
    api_statement_timeout_seconds: float = Field(default=60.0, gt=0)
    api_temp_file_limit_mb: int = Field(default=1024, ge=1)
    api_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    api_max_body_bytes: int = Field(default=65_536, ge=1024)
    # Assessed indicators (citybrain/assessments): the evidence files of one assessment
    # version may hold at most assessment_evidence_max_bytes together (stored in the
    # database). The routes that take them (POST /api/v1/assessments, base64 in JSON, and
    # the console's form) accept a body of 4/3 of that (base64) plus api_max_body_bytes;
    # every other route keeps api_max_body_bytes.
    assessment_evidence_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)

    # Acknowledge links (alerts/incidents/ack_link.py): the HMAC key of the signed, expiring,
    # per-recipient links in notifications, which acknowledge with a click (a confirmation
    # page, then a POST) where no Bearer token can be sent. At least 32 characters, one
    # per deployment. Unset: no signed links; messages carry the incident link only.
    ack_link_secret: SecretStr | None = Field(default=None, min_length=32)

    # The browser console (citybrain/console): a session lasts console_session_hours at
    # most and ends after console_idle_minutes without a request (an on-call phone left
    # on a desk); a one-time sign-in code e-mailed to a roster contact works for
    # console_code_minutes and console_code_attempts wrong tries. Its links to the dashboards go to
    # grafana_url (below; unset: no dashboard links).
    console_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    console_idle_minutes: float = Field(default=60.0, gt=0)
    console_code_minutes: float = Field(default=10.0, gt=0, le=60)
    console_code_attempts: int = Field(default=5, ge=1, le=20)

    # Incidents (alerting issue): the response deadline (the 30-minute clock, opened →
    # first human response) and the resolution deadline, in minutes per severity I–IV (a
    # JSON object; severities left out keep their default); the department whose
    # duty_supervisor contacts get the escalation's supervisor step (unset: duty
    # supervisors of any department); a folder of escalation policy YAML files used
    # instead of the packaged alerts/policies/.
    incident_response_minutes: dict[str, float] = Field(
        default_factory=lambda: {"I": 30.0, "II": 30.0, "III": 30.0, "IV": 30.0})
    incident_resolution_minutes: dict[str, float] = Field(
        default_factory=lambda: {"I": 120.0, "II": 240.0, "III": 1440.0, "IV": 4320.0})
    operations_centre_department: str | None = None
    escalation_policy_dir: Path | None = None

    # Notifiers (alerts/notifiers): every HTTP request and SMTP session is bounded by
    # notify_timeout_seconds; a failed delivery that is worth retrying (5xx, time-out,
    # connection error, a robot's rate-limit code) is tried up to notify_retry_attempts
    # times, waiting base × 2^(n−1) seconds (capped at notify_retry_max_delay_seconds,
    # jittered to 50–100 %), and no retry starts after notify_retry_max_total_seconds.
    # The environment's HTTP(S)_PROXY is not read: set notify_proxy_url to use a proxy.
    # Signing secrets of DingTalk (加签) and Feishu (签名校验) robots, keyed by the robot's
    # webhook address exactly as the escalation policy names it (JSON object); a robot
    # with no entry is called unsigned. E-mail: no smtp_host = no email channel;
    # smtp_security is none, starttls or ssl (implicit TLS, usually port 465);
    # smtp_ca_file trusts a private mail server's CA instead of the system store.
    notify_timeout_seconds: float = Field(default=10.0, gt=0)
    notify_retry_attempts: int = Field(default=4, ge=1, le=20)
    notify_retry_base_seconds: float = Field(default=2.0, gt=0)
    notify_retry_max_delay_seconds: float = Field(default=60.0, gt=0)
    notify_retry_max_total_seconds: float = Field(default=120.0, gt=0)
    notify_proxy_url: str | None = None
    notify_robot_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "citybrain@localhost"
    smtp_security: str = Field(default="none", pattern=r"^(none|starttls|ssl)$")
    smtp_ca_file: Path | None = None

    # Alert detection (alerts/detection: rules.py, flapping.py, collapse.py; `citybrain
    # alerter`): the rule files (a folder of *.yaml or one file; unset: the packaged
    # alerts/rules/); the alerter's consumer group (unset: "<consumer_group>-alerter") and
    # how often it runs its clock-driven checks and the escalation loop. Flapping: an asset
    # changing state more than flap_changes times within flap_window_seconds is marked
    # flapping (one alert); its state alerts are held until it was stable for
    # flap_stable_seconds. Storms: alert_storm_min_children children of one parent going
    # down within alert_storm_window_seconds become one parent incident; a child's outage
    # alert waits alert_storm_hold_seconds (event time) for its siblings before it goes out
    # alone. Recurring maintenance windows are expanded maintenance_horizon_days ahead.
    alert_rules_path: Path | None = None
    alerter_consumer_group: str | None = None
    alerter_tick_seconds: float = Field(default=1.0, gt=0)
    # The alerter's processing time: "wall" (production), or "pipeline" — the liveness
    # feeds' event-time watermark — when recorded or simulated events are replayed faster
    # than real time, so the 30-minute clock and escalation follow the replayed city.
    alerter_clock: Literal["wall", "pipeline"] = "wall"
    flap_changes: int = Field(default=4, ge=2)
    flap_window_seconds: float = Field(default=600.0, gt=0)
    flap_stable_seconds: float = Field(default=900.0, gt=0)
    alert_storm_min_children: int = Field(default=3, ge=2)
    alert_storm_window_seconds: float = Field(default=60.0, gt=0)
    alert_storm_hold_seconds: float = Field(default=10.0, ge=0)
    maintenance_horizon_days: int = Field(default=400, ge=1, le=3660)

    # Deadlines in working days: local holidays and working days on top of the official
    # calendar, per city and per department, and whole years the installed calendar does
    # not have yet (YAML; see citybrain/kernel/workdays.py). Unset: the official calendar.
    work_calendar_file: Path | None = None
    # 12345 work orders: the categories and their time limits (YAML; see
    # schemas/workorder_categories.py), replacing the packaged file as a whole. An open
    # incident with at least hotline_incident_calls linked work orders gets one timeline
    # entry saying so (citizens are calling about it); it notifies nobody.
    workorder_categories_file: Path | None = None
    hotline_incident_calls: int = Field(default=3, ge=1, le=1000)
    # 好差评 (streams/ratings.py): a bad rating is rectified within
    # rating_rectification_days working days of the rating (5, as Dezhou sets it; Sichuan
    # allows 15 — a department's own limit in rating_rectification_days_by_department, a
    # JSON object {"dept-id": 15}), and the person is visited again (reached) within
    # rating_return_visit_days working days of the rectification. Working days: the work
    # calendar above, the department's days included, in the city's zone (timezone).
    rating_rectification_days: int = Field(default=5, ge=1, le=366)
    rating_rectification_days_by_department: dict[str, int] = Field(default_factory=dict)
    rating_return_visit_days: int = Field(default=3, ge=1, le=366)
    # Indicators (off-hours acknowledgement rate): working hours, Monday–Friday in the
    # report's time zone; an incident opened outside them is off-hours. Env: "08:30".
    work_hours_start: time = time(8, 30)
    work_hours_end: time = time(17, 30)
    # Reports (`citybrain report`, the API, the demo): how many database connections
    # compute the indicators side by side, all reading one snapshot (1 = the caller's
    # connection only). Each indicator's SQL runs on one core, so about the server's cores.
    report_workers: int = Field(default=2, ge=1, le=16)
    # The PDF report's font (`--format pdf`): a TrueType CJK font file (.ttf, or a .ttc whose
    # first face is TrueType), embedded as a subset. Unset: the first usable one of a short
    # list of known paths (citybrain/reports/pdf.py), WenQuanYi Micro Hei first (Debian
    # fonts-wqy-microhei). CFF-outline fonts such as Noto CJK cannot be embedded.
    report_font: Path | None = None
    # Availability facts per local day (citybrain/availability.py): the worker computes
    # them for the days that ended at least availability_settle_seconds ago, within the
    # last availability_days days, at most availability_batch_days per run, every
    # availability_refresh_seconds (0: never; reports are exact either way, only slower).
    availability_refresh_seconds: float = Field(default=300.0, ge=0)
    availability_settle_seconds: float = Field(default=900.0, ge=0)
    availability_days: int = Field(default=400, ge=1)
    availability_batch_days: int = Field(default=7, ge=1)

    # Operator views (dashboards/, citybrain/metrics*.py): the address and port that
    # `citybrain worker`, the alerter and the API serve Prometheus /metrics on, port 0 = off
    # (the API's own port serves /metrics only with a token; in a container metrics_host
    # must be 0.0.0.0);
    # the time-out of each database query behind the gauges computed at scrape time; how
    # often a worker samples its consumer lag. `citybrain dashboards push`: Grafana's
    # address and API token (service account, Editor or Admin; --url/--token override
    # them), and how Grafana reaches the database (a libpq URL with a read-only user whose
    # search_path is the citybrain schema) and Prometheus, for the datasources.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_db_timeout_seconds: float = Field(default=2.0, gt=0)
    metrics_lag_interval_seconds: float = Field(default=10.0, gt=0)
    grafana_url: str | None = None
    grafana_token: SecretStr | None = None
    grafana_database_url: SecretStr | None = None
    grafana_prometheus_url: str = "http://prometheus:9090"

    worker_id: str = "worker-1"
    consumer_group: str = "citybrain-ingest"
    broker_session_timeout: float = Field(default=10.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(_("unknown IANA time zone {zone}").format(zone=repr(value))) from exc
        return value

    @field_validator("incident_response_minutes", "incident_resolution_minutes", mode="before")
    @classmethod
    def _per_severity(cls, value: object, info: ValidationInfo) -> object:
        # Incidents: a partial mapping overrides only the severities it names.
        if not isinstance(value, dict):
            return value
        unknown = sorted(set(value) - {"I", "II", "III", "IV"})
        if unknown:
            raise ValueError(_("unknown severities {severities}; use I, II, III, IV").format(
                severities=", ".join(unknown)))
        defaults = cls.model_fields[str(info.field_name)].get_default(call_default_factory=True)
        merged = {**defaults, **value}
        if any(float(v) <= 0 for v in merged.values()):
            raise ValueError(_("every deadline must be more than 0 minutes"))
        return merged

    @field_validator("work_hours_end")
    @classmethod
    def _work_hours_order(cls, value: time, info: ValidationInfo) -> time:
        # Indicators: working hours must end after they start (no overnight shifts).
        start = info.data.get("work_hours_start")
        if isinstance(start, time) and value <= start:
            raise ValueError(_("work_hours_end must be after work_hours_start"))
        return value

    @field_validator("rating_rectification_days_by_department")
    @classmethod
    def _rating_limits(cls, value: dict[str, int]) -> dict[str, int]:
        # 好差评: a department's own rectification limit, in working days like the default.
        wrong = sorted(dept for dept, days in value.items()
                       if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}", dept)
                       or not 1 <= days <= 366)
        if wrong:
            raise ValueError(_("rectification limits must be 1–366 working days per department id: "
                               "check {departments}").format(departments=", ".join(wrong)))
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


class _LanguageOnly(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYBRAIN_", frozen=True, extra="ignore")

    language: Literal["zh-CN", "en"] = "zh-CN"


def language_setting() -> Language:
    """CITYBRAIN_LANGUAGE alone: the language to say that the other settings are invalid in
    (the default when it is invalid itself)."""
    try:
        return _LanguageOnly().language
    except ValidationError:
        return DEFAULT_LANGUAGE

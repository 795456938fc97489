"""What the dashboards say, per language: the catalogue, and the labels of stored values.

Every title, description and column header of a dashboard is a msgid of this package's
catalogue (``dashboards/locale``), translated when a board is built for a language
(``make i18n`` keeps the catalogue). Stored values stay what the database holds (``I``,
``triggered``, ``offline``, ``infrastructure``…); a person reads them through

- Grafana **value mappings** (``value_mappings``) in tables and stats, where Grafana maps a
  cell's value to a text and a colour, and
- SQL ``CASE`` labels (``sql_label``) where Grafana cannot map: series names of a time
  series and row names of a bar gauge, which come from the query as they are.

Both read the tables below, so a severity reads the same in a table, a legend and a bar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from citybrain.kernel.i18n import N_, Catalogue, Language, Translator

MESSAGES = Catalogue.of_package(__name__)


def translator(language: Language) -> Translator:
    return MESSAGES.translator(language)


@dataclass(frozen=True)
class Label:
    """A stored value's text (a msgid) and the Grafana colour it is shown in."""

    text: str
    color: str = "text"


# Incident severities and security-event levels: the national emergency levels, I the
# most severe.
SEVERITIES: Mapping[str, Label] = {
    "I": Label(N_("I · extremely serious"), "dark-red"),
    "II": Label(N_("II · serious"), "red"),
    "III": Label(N_("III · relatively serious"), "orange"),
    "IV": Label(N_("IV · general"), "yellow"),
}
INCIDENT_STATUSES: Mapping[str, Label] = {
    "triggered": Label(N_("Awaiting response"), "red"),
    "acknowledged": Label(N_("Acknowledged"), "orange"),
    "resolved": Label(N_("Resolved"), "green"),
    "closed": Label(N_("Closed"), "text"),
}
# An asset's liveness state (streams.liveness.State).
ASSET_STATES: Mapping[str, Label] = {
    "online": Label(N_("Online"), "green"),
    "degraded": Label(N_("Degraded"), "orange"),
    "offline": Label(N_("Offline"), "red"),
    "unknown": Label(N_("Unknown"), "text"),
}
# What the status command and the assets gauge count an asset in: its liveness state, or
# "untracked" (dashboards.status.UNTRACKED) for kinds without a heartbeat.
COUNTED_STATES: Mapping[str, Label] = {**ASSET_STATES, "untracked": Label(N_("Untracked"))}
# The event families (schemas.events.TABLES), which also name the liveness feeds.
FAMILIES: Mapping[str, Label] = {
    "iot": Label(N_("IoT")),
    "video": Label(N_("Video")),
    "cloud": Label(N_("Gov cloud")),
    "security": Label(N_("Security events")),
    "probe": Label(N_("Service probes")),
    "data": Label(N_("Data resources")),
    "usage": Label(N_("Portal usage")),
    "rating": Label(N_("Service ratings")),
    "hotline": Label(N_("12345 work orders")),
}
# Notification channels (alerts.notifiers) and why a notification failed
# (citybrain.kernel.metrics.NOTIFICATION_OUTCOMES).
CHANNELS: Mapping[str, Label] = {
    "email": Label(N_("E-mail")),
    "wecom": Label(N_("WeCom")),
    "dingtalk": Label(N_("DingTalk")),
    "feishu": Label(N_("Feishu")),
    "webhook": Label(N_("Webhook")),
}
NOTIFICATION_OUTCOMES: Mapping[str, Label] = {
    "rejected": Label(N_("rejected by the receiver")),
    "exhausted": Label(N_("retries exhausted")),
}
# The severities of the platform's own Prometheus alerts (alerts/prometheus-rules.yml).
PLATFORM_ALERT_SEVERITIES: Mapping[str, Label] = {
    "critical": Label(N_("Critical"), "red"),
    "warning": Label(N_("Warning"), "orange"),
}
# SLA breaches by kind (dashboards.metrics_store.BREACH_KINDS).
BREACH_KINDS: Mapping[str, Label] = {
    "response": Label(N_("Response overdue"), "orange"),
    "resolution": Label(N_("Resolution overdue"), "red"),
}
# The five keys, and the response indicators' "ops" in the scorecard.
KEYS: Mapping[str, Label] = {
    "infrastructure": Label(N_("Infrastructure")),
    "data": Label(N_("Data resources")),
    "system": Label(N_("Business systems")),
    "portal": Label(N_("Service portals")),
    "security": Label(N_("Security")),
    "ops": Label(N_("Operations service")),
}
# The national evaluation's bands of a composite score (citybrain.reports.scorecard).
BANDS: Mapping[str, Label] = {
    "preparation": Label(N_("Preparation"), "red"),
    "start-up": Label(N_("Start-up"), "orange"),
    "growth": Label(N_("Growth"), "yellow"),
    "mature": Label(N_("Mature"), "green"),
}
# Catalogue units as a person reads them next to a figure.
UNITS: Mapping[str, Label] = {
    "%": Label("%"),
    "ms": Label(N_("ms")),
    "count": Label(N_("count")),
    "minutes": Label(N_("minutes")),
}
ASSET_KINDS: Mapping[str, Label] = {
    "iot_device": Label(N_("IoT terminal")),
    "gateway": Label(N_("IoT gateway")),
    "camera": Label(N_("Video camera")),
    "cloud_host": Label(N_("Gov-cloud host")),
    "portal": Label(N_("Service portal")),
    "system": Label(N_("Business system")),
    "link": Label(N_("Network link")),
    "dataset": Label(N_("Dataset")),
    "security_sensor": Label(N_("Security sensor")),
    "other": Label(N_("Other")),
}
SECURITY_CATEGORIES: Mapping[str, Label] = {
    "intrusion": Label(N_("Intrusion")),
    "malware": Label(N_("Malware")),
    "ddos": Label(N_("DDoS attack")),
    "vulnerability": Label(N_("Vulnerability")),
    "policy_violation": Label(N_("Policy violation")),
    "data_leak": Label(N_("Data leak")),
    "other": Label(N_("Other")),
}
# Boolean columns: an open incident past its response deadline; an indicator meeting its
# target (NULL, no data or no target, stays an empty cell).
OVERDUE: Mapping[str, Label] = {
    "true": Label(N_("Overdue"), "red"),
    "false": Label(N_("Within deadline"), "green"),
}
MET: Mapping[str, Label] = {
    "true": Label(N_("Met"), "green"),
    "false": Label(N_("Missed"), "red"),
}
# Where a registry reference is empty (an asset without a district, an incident without
# a key): the SQL shows this member id.
NONE_MEMBER = "(none)"
NONE_TEXT = N_("(none)")


def text(t: Translator, labels: Mapping[str, Label], value: str) -> str:
    """The translated label of a stored value (the value itself when it has none)."""
    label = labels.get(value)
    return t.gettext(label.text) if label else value


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_label(t: Translator, labels: Mapping[str, Label], column: str, *, none: bool = False) -> str:
    """``CASE column WHEN 'I' THEN '特别重大（Ⅰ级）' … ELSE column END``: the label a series or
    bar gets from the query. ``none`` also labels ``(none)`` (an empty reference)."""
    whens = [f"WHEN {quote_literal(value)} THEN {quote_literal(t.gettext(label.text))}"
             for value, label in labels.items()]
    if none:
        whens.append(f"WHEN {quote_literal(NONE_MEMBER)} THEN {quote_literal(t.gettext(NONE_TEXT))}")
    return f"CASE {column} " + " ".join(whens) + f" ELSE {column} END"


def value_mappings(t: Translator, labels: Mapping[str, Label], *,
                   colored: bool = True) -> list[dict[str, Any]]:
    """Grafana's value mappings (JSON) from stored values to their labels and colours."""
    options: dict[str, dict[str, Any]] = {}
    for index, (value, label) in enumerate(labels.items()):
        result: dict[str, Any] = {"text": t.gettext(label.text), "index": index}
        if colored and label.color != "text":
            result["color"] = label.color
        options[value] = result
    options[NONE_MEMBER] = {"text": t.gettext(NONE_TEXT), "index": len(options)}
    return [{"type": "value", "options": options}]

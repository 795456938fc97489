"""The words for the contracts' values that several domains show people.

A liveness state or a security event's category is stored as an id (``degraded``,
``policy_violation``) and named in the detection's incident titles, the demo's evidence
and the dashboards alike; each is translated here, once, so the wall, the page and the
report never call one thing by two names (降级 in one place, 异常 in another). The texts
are in-sentence forms; the dashboards' value mappings keep their own capitalised labels
with colours (dashboards/texts.py) and use the same Chinese.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from citybrain.kernel.i18n import N_, Catalogue, Language

MESSAGES: Final = Catalogue.of_package(__name__)

# streams.liveness.State values.
LIVENESS_STATES: Final[Mapping[str, str]] = {
    "online": N_("online"),
    "degraded": N_("degraded"),
    "offline": N_("offline"),
    "unknown": N_("unknown"),
}

# schemas.events.SecurityEvent.category values.
SECURITY_CATEGORIES: Final[Mapping[str, str]] = {
    "intrusion": N_("intrusion"),
    "malware": N_("malware"),
    "ddos": N_("DDoS"),
    "vulnerability": N_("vulnerability"),
    "policy_violation": N_("policy violation"),
    "data_leak": N_("data leak"),
    "other": N_("other"),
}


def _word(table: Mapping[str, str], value: str, language: Language | str) -> str:
    # A value the contract does not (yet) know is shown as stored rather than hidden.
    text = table.get(value)
    return value if text is None else MESSAGES.gettext(language, text)


def liveness_state(value: str, language: Language | str) -> str:
    return _word(LIVENESS_STATES, value, language)


def security_category(value: str, language: Language | str) -> str:
    return _word(SECURITY_CATEGORIES, value, language)

"""What an incident's title says, in the platform's language.

Detection writes each title once, when the alert is made, in ``Settings.language``; the
incident store keeps the title an incident opened with (evidence: a later change of
language does not rewrite it). The sentence is the rule's (``title`` / ``title_zh``,
alerts/detection/rules.py) or, for detection's own alerts (flapping, storms), this
package's catalogue; the values it names come from here, in the same language:

* ``{asset}`` and ``{department}``: the registry's names (``name_zh`` for zh-CN,
  schemas.names.localized), the id where none is registered;
* ``{state}`` and ``{category}``: the liveness state and the security category in words;
* ``{reason}``: the liveness monitor's reason in words. The monitor (streams/liveness.py,
  streams/derivation.py) writes its reasons in English on the state-change topic; they
  are recognised by their wording here, and the tests feed this module the monitor's own
  output, so a reworded reason fails a test instead of reaching a Chinese title in
  English. A reason not recognised is shown as the source wrote it, never dropped.

Ids, levels (I–IV), numbers, metric names and a security event's own title are shown as
they are. The alert's details keep the raw values (ids, the monitor's reason as written)
for the API and the timeline. Fingerprints hold ids only, never a word from here, so
changing the language cannot open a second incident for one condition.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from alerts.detection.topology import AssetInfo, Topology
from citybrain.kernel.i18n import N_, Catalogue, Language
from schemas.vocabulary import liveness_state, security_category

MESSAGES = Catalogue.of_package(__name__)

# Event families as a liveness reason names them (the feed that went quiet).
FEEDS: Final[Mapping[str, str]] = {
    "iot": N_("IoT"),
    "video": N_("video"),
    "cloud": N_("cloud"),
    "security": N_("security"),
    "probe": N_("probe"),
    "data": N_("data exchange"),
}

# The liveness monitor's fixed reasons, as it writes them.
REASONS: Final[Mapping[str, str]] = {
    "reported down": N_("reported down"),
    "reported degraded": N_("reported degraded"),
    "picture fault": N_("picture fault"),
    "reported": N_("reported"),
    "recovered": N_("recovered"),
    "registered, no report yet": N_("registered, no report yet"),
    "no data from the platform": N_("no data from the platform"),
    "corrected: late evidence": N_("corrected: late evidence"),
}

# "no heartbeat within 150s (interval 60s × 2.5)"; an unknown asset's deadline counts
# from an anchor: "no heartbeat within 150s of 2026-03-02 08:00:00+00:00 (interval …)".
_HEARTBEAT = re.compile(r"no heartbeat within (?P<window>[^\s]+)s(?: of (?P<since>.+?))?"
                        r"(?: \(interval (?P<interval>[^\s]+)s × (?P<tolerance>[^\s)]+)\))?")
_GAP = re.compile(r"ingestion gap: no (?P<feed>\S+) events for (?P<seconds>[^\s]+)s after (?P<after>.+)")


class Wording:
    """The words of one language for the values a title names; ``topology`` is read at
    each use (the alerter swaps the registry when it changes)."""

    def __init__(self, language: Language, topology: Callable[[], Topology]) -> None:
        self.language = language
        self._t = MESSAGES.translator(language)
        self._topology = topology

    def gettext(self, message: str) -> str:
        return self._t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._t.ngettext(singular, plural, n)

    def asset(self, asset_id: str, asset: AssetInfo | None = None) -> str:
        """The asset's registry name in this language, else its id."""
        found = asset if asset is not None else self._topology().get(asset_id)
        return found.display_name(self.language) if found is not None else asset_id

    def department(self, department_id: str | None) -> str | None:
        if department_id is None:
            return None
        return self._topology().department_name(department_id, self.language)

    def state(self, state: str) -> str:
        return liveness_state(state, self.language)

    def category(self, category: str) -> str:
        return security_category(category, self.language)

    def reason(self, reason: str) -> str:
        """A liveness reason in words of this language; as written when not recognised."""
        if reason in REASONS:
            return self._t.gettext(REASONS[reason])
        if (m := _HEARTBEAT.fullmatch(reason)) is not None:
            text = (self._t.gettext("no heartbeat within {window}s").format(window=m["window"])
                    if m["since"] is None else
                    self._t.gettext("no heartbeat within {window}s of {since}").format(
                        window=m["window"], since=m["since"]))
            if m["interval"] is None:
                return text
            return self._t.gettext("{reason} (interval {interval}s × {tolerance})").format(
                reason=text, interval=m["interval"], tolerance=m["tolerance"])
        if (m := _GAP.fullmatch(reason)) is not None:
            name = m["feed"]
            feed = self._t.gettext(FEEDS[name]) if name in FEEDS else name
            return self._t.gettext("ingestion gap: no {feed} events for {seconds}s after {after}").format(
                feed=feed, seconds=m["seconds"], after=m["after"])
        return reason

    def values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A rule's placeholder values as a reader of this language reads them."""
        out = dict(values)
        for key, word in (("state", self.state), ("category", self.category), ("reason", self.reason)):
            if isinstance(out.get(key), str):
                out[key] = word(out[key])
        return out

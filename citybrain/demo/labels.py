"""The demo's words for people: its catalogue, and what the simulation's ids are called.

The scenario, the registry and the store speak in ids (``district_outage``,
``gw-01-01``, ``degraded``); the summary names them in the reader's language
(Settings.language). An asset is shown by its registry name with its id in brackets,
since the id is what an operator types (``citybrain incidents list --asset …``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from rich.markup import escape

from citybrain.kernel.i18n import N_, Catalogue, Translator
from schemas.names import Names

MESSAGES: Final = Catalogue.of_package(__name__)

# The scenario's failure kinds (citybrain/simulator/scenario.py).
FAILURE_KINDS: Final[Mapping[str, str]] = {
    "district_outage": N_("District outage"),
    "flapping_device": N_("Flapping device"),
    "packet_loss_burst": N_("Packet loss burst"),
    "portal_outage": N_("Portal outage"),
    "camera_picture_fault": N_("Camera picture fault"),
    "cloud_hot_host": N_("Overloaded cloud host"),
    "security_event": N_("Security event"),
    "data_leak": N_("Data leak"),
    "stale_dataset": N_("Stale dataset"),
    "resource_request": N_("Cloud resource request"),
    "unregistered_source": N_("Unregistered source"),
    "failed_quality_check": N_("Failed quality check"),
    "duplicate_message": N_("Duplicate message"),
    "malformed_message": N_("Malformed message"),
}

# A camera's picture faults (schemas/events.py PictureFault, and the VMS's "offline").
PICTURE_FAULTS: Final[Mapping[str, str]] = {
    "black": N_("black screen"),
    "frozen": N_("frozen picture"),
    "occluded": N_("occluded lens"),
    "blurred": N_("blurred picture"),
    "signal_loss": N_("signal loss"),
    "offline": N_("offline"),
}

def label(t: Translator, table: Mapping[str, str], key: str) -> str:
    """``key``'s name in ``t``'s language; a key the table does not know is shown as is."""
    text = table.get(key)
    return key if text is None else t.gettext(text)


def asset_label(names: Names, asset_id: str) -> str:
    """``name [id]``, or the id alone when the registry has no name for it."""
    name = names.asset(asset_id) or asset_id
    return asset_id if name == asset_id else f"{name} [{asset_id}]"


def cell(text: str) -> str:
    """Text from the registry or the store, shown literally (``[gw-01-01]`` is no markup)."""
    return escape(text)

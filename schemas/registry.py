"""The asset registry format: departments, districts and assets.

One YAML file holds ``departments``, ``districts`` and ``assets`` lists; a CSV file
holds assets only (one row each, list fields separated by ``;``). Times are ISO 8601
with an offset; naive times are refused rather than guessed.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from citybrain.kernel.i18n import Catalogue

# The validators' messages are read by the person importing the registry (current language).
MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

Key = Literal["infrastructure", "data", "system", "portal", "security"]

AssetKind = Literal[
    "iot_device", "gateway", "camera", "cloud_host", "portal", "system", "link", "dataset",
    "security_sensor", "other",
]

# The five-key an asset kind belongs to unless the registry says otherwise.
DEFAULT_KEY: dict[str, Key] = {
    "iot_device": "infrastructure",
    "gateway": "infrastructure",
    "camera": "infrastructure",
    "cloud_host": "infrastructure",
    "link": "infrastructure",
    "portal": "portal",
    "system": "system",
    "dataset": "data",
    "security_sensor": "security",
    "other": "infrastructure",
}

# Which event family proves an asset kind alive (None: no liveness tracking).
LIVENESS_FEED: dict[str, str | None] = {
    "iot_device": "iot",
    "gateway": "iot",
    "camera": "video",
    "cloud_host": None,
    "link": "probe",
    "portal": "probe",
    "system": "probe",
    "dataset": None,
    "security_sensor": None,
    "other": None,
}

Ident = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    role: Literal["oncall", "lead", "first_responsible", "duty_supervisor"] = "oncall"
    phone: str | None = None
    email: str | None = None
    im: str | None = Field(default=None, description="WeCom/DingTalk/Feishu user id")


class Department(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    department_id: str = Ident
    name: str = Field(min_length=1)
    name_zh: str | None = None
    first_responsible: Contact
    contacts: tuple[Contact, ...] = ()


class District(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    district_id: str = Ident
    name: str = Field(min_length=1)
    name_zh: str | None = None


class Asset(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    asset_id: str = Ident
    name: str | None = None
    name_zh: str | None = None
    kind: AssetKind
    key: Key | None = None  # defaults from kind
    department_id: str = Ident
    district_id: str | None = None
    parent_id: str | None = None
    expected_interval_s: int | None = Field(default=None, gt=0, le=7 * 86400)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    shared_with: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    registered_at: AwareDatetime
    retired_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _check(self) -> Asset:
        if self.retired_at is not None and self.retired_at < self.registered_at:
            raise ValueError(_("retired_at is before registered_at"))
        if self.parent_id == self.asset_id:
            raise ValueError(_("an asset cannot be its own parent"))
        if LIVENESS_FEED[self.kind] is not None and self.expected_interval_s is None:
            raise ValueError(_("a {kind} needs expected_interval_s (its heartbeat interval)").format(
                kind=self.kind))
        return self

    @property
    def five_key(self) -> Key:
        return self.key or DEFAULT_KEY[self.kind]


class ServiceItem(BaseModel):
    """One item of the service catalogue (政务服务事项): what a department offers, its kind,
    whether it can be handled online, and since when the unified portal covers it (None:
    not covered). Table service_items (migration 025)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    service_id: str = Ident
    name: str = Field(min_length=1)
    name_zh: str | None = None
    kind: str = Ident            # e.g. licensing, certificate, payment, public_service
    department_id: str = Ident
    online_capable: bool
    portal_since: AwareDatetime | None = None
    registered_at: AwareDatetime
    retired_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _check(self) -> ServiceItem:
        if self.retired_at is not None and self.retired_at < self.registered_at:
            raise ValueError(_("retired_at is before registered_at"))
        return self


class Population(BaseModel):
    """A district's population on a date, with its source: ``resident`` (常住) or
    ``household`` (户籍). Table population (migration 025)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    district_id: str = Ident
    basis: Literal["resident", "household"]
    as_of: date
    people: int = Field(gt=0)
    source: str = Field(min_length=1, max_length=500)


class PortalAccounts(BaseModel):
    """The unified portal's registered (real-name) accounts on a date, from its account
    system. Table portal_accounts (migration 025)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    as_of: date
    registered_users: int = Field(ge=0)
    verified_users: int | None = Field(default=None, ge=0)
    source: str = Field(min_length=1, max_length=500)


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    departments: tuple[Department, ...] = ()
    districts: tuple[District, ...] = ()
    assets: tuple[Asset, ...] = ()
    service_items: tuple[ServiceItem, ...] = ()
    population: tuple[Population, ...] = ()
    portal_accounts: tuple[PortalAccounts, ...] = ()

"""One base exception for the project; every boundary wraps its errors with a hint."""


class CitybrainError(Exception):
    """Base of every error the project raises on purpose."""


class SettingsError(CitybrainError):
    """A CITYBRAIN_* setting is missing or malformed."""


class StoreError(CitybrainError):
    """The database refused or could not be reached."""


class BrokerError(CitybrainError):
    """The Kafka broker refused or could not be reached."""


class RegistryError(CitybrainError):
    """An asset registry file is malformed; the message names file, row and field."""


class RuntimeStartError(CitybrainError):
    """An embedded service (broker or database) failed to start."""

"""Event contracts, the asset registry format and the SQL migrations."""

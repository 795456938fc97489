"""What every domain's routes share: tokens, the access table, error bodies, limits,
the access log and the request's connection and settings."""

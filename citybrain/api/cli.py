"""``citybrain tokens create|list|revoke`` and ``citybrain api``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from citybrain.kernel import audit, store
from citybrain.kernel.console import console, load_settings
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import N_
from citybrain.kernel.runtime import services

tokens_app = typer.Typer(
    help=N_("API tokens (one role each, optionally limited to a department).\n\n"
            "Example: citybrain tokens create --role evaluator --name bureau-audit"),
    no_args_is_help=True,
)




@tokens_app.command("create", help=N_(
    "Create a token and print it (it is shown once; only its digest is stored).\n\n"
    "An oncall token needs --department: on-call staff act for one department, and the API refuses"
    " every on-call action of a token without one."))
def create(
    role: Annotated[Role, typer.Option(help=N_("operator, oncall, evaluator or admin"))],
    department: Annotated[str | None, typer.Option(help=N_("limit the token to one department"))] = None,
    name: Annotated[str, typer.Option(help=N_("who or what holds the token"))] = "",
    expires_in: Annotated[str | None, typer.Option(
        help=N_("lifetime in days or hours, e.g. 90d or 12h (default: until revoked)"))] = None,
) -> None:
    if role is Role.oncall and department is None:
        raise tokens.TokenError("an oncall token needs --department: it acts for that department only")
    lifetime = tokens.parse_lifetime(expires_in) if expires_in is not None else None
    settings = load_settings()
    actor = audit.Actor.cli()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        # The database's clock, as revocation and the API's expiry check use.
        expires_at = None
        if lifetime is not None:
            row = conn.execute("SELECT now()").fetchone()
            assert row is not None
            expires_at = row[0] + lifetime
        token, clear = tokens.create(conn, role, department=department, name=name, created_by=actor.id,
                                     expires_at=expires_at)
        audit.record(conn, actor, "token.create", token.token_id,
                     {"role": role.value, "department": department, "name": name,
                      "expires_at": expires_at.isoformat() if expires_at else None})
    console.print(clear, soft_wrap=True, highlight=False)


def _when(at: datetime) -> str:
    # UTC to the minute: short enough that the table keeps whole times in 120 columns.
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


@tokens_app.command("list", help=N_("The tokens (ids, roles, departments; never the secrets)."))
def list_tokens() -> None:
    settings = load_settings()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        found = tokens.listing(conn)
    table = Table("id", "role", "department", "name", "created", "by", "expires", "revoked")
    for t in found:
        table.add_row(t.token_id, t.role.value, t.department or "all", t.name, _when(t.created_at),
                      t.created_by, _when(t.expires_at) if t.expires_at else "never",
                      _when(t.revoked_at) if t.revoked_at else "")
    console.print(table)


@tokens_app.command("revoke", help=N_("Revoke a token by its id (the second part of the printed token)."))
def revoke(token_id: str) -> None:
    settings = load_settings()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        done = tokens.revoke(conn, token_id)
        if done:
            audit.record(conn, audit.Actor.cli(), "token.revoke", token_id)
    if not done:
        raise typer.BadParameter(f"no live token with id {token_id!r}")
    console.print(f"token {token_id} revoked")


def serve(
    host: Annotated[str | None, typer.Option(help=N_("listen address (default from settings)"))] = None,
    port: Annotated[int | None, typer.Option(help=N_("port (default from settings)"))] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs)."""
    import uvicorn

    from citybrain.api.app import create_app
    from citybrain.kernel.dependencies import wait_for_database
    from dashboards.metrics_server import platform_registry, serve_process_metrics

    settings = load_settings()
    # Before uvicorn configures logging: the wait for the database is logged meanwhile.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with services(settings, need_broker=False) as ep:
        wait_for_database(ep.database_url)  # started before the database: wait for it
        # As the worker does.
        store.migrate(ep.database_url, settings.database_schema, storage=settings.storage)
        # Prometheus's scrape target (CITYBRAIN_METRICS_PORT, internal); /metrics on the
        # API's own port needs a token.
        serve_process_metrics(settings, platform_registry(settings, ep.database_url))
        uvicorn.run(create_app(settings, ep.database_url), host=host or settings.api_host,
                    port=port or settings.api_port, log_level="info")

"""``citybrain tokens create|list|revoke`` and ``citybrain api``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from citybrain.kernel import audit, store
from citybrain.kernel.console import console, load_settings
from citybrain.kernel.http import tokens
from citybrain.kernel.http.tokens import Role
from citybrain.kernel.i18n import N_, Catalogue, current_language
from citybrain.kernel.runtime import services
from schemas.names import names_for

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

# The roles as ``tokens list`` shows them (the value, for --role, beside a translation).
ROLES = {Role.operator: N_("operator"), Role.oncall: N_("oncall"), Role.evaluator: N_("evaluator"),
         Role.admin: N_("admin")}

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
        raise tokens.TokenError(_("an oncall token needs --department: it acts for that department only"))
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
        names = names_for(conn, current_language(),
                          department_ids=[t.department for t in found if t.department])
    table = Table(*(_(h) for h in (N_("id"), N_("role"), N_("department"), N_("name"), N_("created"),
                                   N_("by"), N_("expires"), N_("revoked"))))
    for t in found:
        table.add_row(t.token_id, escape(_labelled(_(ROLES[t.role]), t.role.value)),
                      escape(_labelled(names.department(t.department) or "", t.department))
                      if t.department else _("all departments"),
                      escape(t.name), _when(t.created_at), escape(t.created_by),
                      _when(t.expires_at) if t.expires_at else _("never"),
                      _when(t.revoked_at) if t.revoked_at else "")
    console.print(table)


def _labelled(label: str, ident: str) -> str:
    """``label [id]``; the id alone when the label is the id."""
    return ident if label == ident else f"{label} [{ident}]"


@tokens_app.command("revoke", help=N_("Revoke a token by its id (the second part of the printed token)."))
def revoke(token_id: str) -> None:
    settings = load_settings()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        done = tokens.revoke(conn, token_id)
        if done:
            audit.record(conn, audit.Actor.cli(), "token.revoke", token_id)
    if not done:
        raise typer.BadParameter(_("no live token with id {token_id}").format(token_id=repr(token_id)))
    console.print(_("token {token_id} revoked").format(token_id=escape(token_id)))


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

"""``citybrain tokens create|list|revoke`` and ``citybrain api``."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.table import Table

from citybrain import audit, store
from citybrain.api import tokens
from citybrain.api.tokens import Role
from citybrain.cli_common import load_settings
from citybrain.runtime import services

tokens_app = typer.Typer(
    help="API tokens (one role each, optionally limited to a department).\n\n"
         "Example: citybrain tokens create --role evaluator --name bureau-audit",
    no_args_is_help=True,
)




@tokens_app.command("create")
def create(
    role: Annotated[Role, typer.Option(help="operator, oncall, evaluator or admin")],
    department: Annotated[str | None, typer.Option(help="limit the token to one department")] = None,
    name: Annotated[str, typer.Option(help="who or what holds the token")] = "",
) -> None:
    """Create a token and print it (it is shown once; only its digest is stored)."""
    from citybrain.cli import console

    settings = load_settings()
    actor = audit.Actor.cli()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        token, clear = tokens.create(conn, role, department=department, name=name, created_by=actor.id)
        audit.record(conn, actor, "token.create", token.token_id,
                     {"role": role.value, "department": department, "name": name})
    console.print(clear, soft_wrap=True, highlight=False)


@tokens_app.command("list")
def list_tokens() -> None:
    """The tokens (ids, roles, departments; never the secrets)."""
    from citybrain.cli import console

    settings = load_settings()
    with (services(settings, need_broker=False) as ep,
          store.connect(ep.database_url, settings.database_schema) as conn):
        found = tokens.listing(conn)
    table = Table("id", "role", "department", "name", "created", "by", "revoked")
    for t in found:
        table.add_row(t.token_id, t.role.value, t.department or "all", t.name,
                      t.created_at.isoformat(timespec="seconds"), t.created_by,
                      t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "")
    console.print(table)


@tokens_app.command("revoke")
def revoke(token_id: str) -> None:
    """Revoke a token by its id (the second part of the printed token)."""
    from citybrain.cli import console

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
    host: Annotated[str | None, typer.Option(help="listen address (default from settings)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default from settings)")] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs)."""
    import uvicorn

    from citybrain.api.app import create_app
    from citybrain.dependencies import wait_for_database

    settings = load_settings()
    # Before uvicorn configures logging: the wait for the database is logged meanwhile.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with services(settings, need_broker=False) as ep:
        wait_for_database(ep.database_url)  # started before the database: wait for it
        # As the worker does.
        store.migrate(ep.database_url, settings.database_schema, storage=settings.storage)
        uvicorn.run(create_app(settings, ep.database_url), host=host or settings.api_host,
                    port=port or settings.api_port, log_level="info")

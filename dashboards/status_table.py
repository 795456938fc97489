"""Readable tables for a person at a terminal (status and the demo's summary)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from dashboards.status import KEYS, STATES, Status


def print_status(console: Console, st: Status) -> None:
    console.print("[bold]Stored events per family[/bold]")
    events = Table()
    events.add_column("family")
    events.add_column("events", justify="right")
    for family, n in st.events.items():
        events.add_row(family, f"{n:,}")
    events.add_row("[bold]total[/bold]", f"[bold]{sum(st.events.values()):,}[/bold]")
    console.print(events)

    console.print(
        f"Dead-lettered: [bold]{st.dead_lettered}[/bold]    "
        f"from unregistered sources: {st.unregistered_events:,} events "
        f"({st.unregistered_sources} asset ids, stored and listed for registration)"
    )
    if st.dead_letter_reasons:
        console.print("[bold]Dead letters by reason[/bold]")
        dl = Table()
        dl.add_column("reason")
        dl.add_column("count", justify="right")
        for reason, n in st.dead_letter_reasons.items():
            dl.add_row(reason, str(n))
        console.print(dl)

    console.print("[bold]Registered assets by key and current liveness state[/bold]")
    assets = Table()
    assets.add_column("key")
    for state in STATES:
        assets.add_column(state, justify="right")
    for key in KEYS:
        row = st.assets.get(key, {})
        if sum(row.values()):
            assets.add_row(key, *(str(row.get(s, 0)) for s in STATES))
    console.print(assets)
    console.print(
        "[dim]untracked: kinds without a heartbeat (cloud hosts, datasets, security sensors)[/dim]"
    )
    if st.state_changes:
        changes = ", ".join(f"{state} {n:,}" for state, n in st.state_changes.items())
        console.print(f"State changes entered: {changes}")
    if st.watermarks:
        console.print("Feed watermarks (event time): " + ", ".join(
            f"{f} {w}" for f, w in st.watermarks.items()))

"""`make demo` on a starved machine (issue #13): the demo and everything it starts pinned
to one core beside two busy loops, so it gets about a third of that core. It must wait
as long as the pipeline makes progress, finish, and tell its story right: every injected
failure opens the incident it should (the self-check, citybrain/demo/check.py), and
leave nothing running. It speaks the default language (zh-CN): what it is checked for is
looked up in the catalogues it prints from."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from citybrain.demo.labels import FAILURE_KINDS, MESSAGES
from citybrain.kernel.i18n import Catalogue

HOGS = 2
BUSY_LOOP = "import os, sys\nos.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True:\n    pass\n"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.mark.integration
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_demo_tells_its_story_on_a_third_of_a_core(tmp_path: Path) -> None:
    core = min(os.sched_getaffinity(0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYBRAIN_")}
    env["CITYBRAIN_DATA_DIR"] = str(tmp_path / "data")
    before = {p.pid for p in psutil.process_iter()}
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(core)]) for _ in range(HOGS)]
    try:
        cpu_before, began = _children_cpu(), time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "citybrain", "demo", "--days", "0.1", "--scale", "0.3",
             "--out", str(tmp_path / "out")],
            env=env, capture_output=True, text=True, timeout=900, check=False,
            # Workers, alerter, broker and database inherit the core.
            preexec_fn=lambda: os.sched_setaffinity(0, {core}),
        )
        wall = time.monotonic() - began
        cpu = _children_cpu() - cpu_before  # the demo and what it waited for
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    zh = MESSAGES.translator("zh-CN")
    # On a failure, the self-check's table (which injected failure did not open its incident)
    # as well as the end of the output: the tail alone is the scorecard and the console.
    check = zh.gettext("Self-check")
    table = out.stdout[out.stdout.find(check):][:8000] if check in out.stdout else ""
    report = table + "\n…\n" + out.stdout[-4000:] + out.stderr[-3000:]
    assert out.returncode == 0, report
    passed = zh.gettext("Self-check passed: {passed} of {total} ✓").partition("{")[0]
    assert passed in out.stdout, report
    assert "✗" not in out.stdout.split(passed)[-1], report
    for step in ("Producing", "Storing", "Deriving liveness", "Alerting", "Indicator report"):
        assert zh.gettext(step) in out.stdout, step
    status = Catalogue.of_package("dashboards.status").translator("zh-CN")
    for told in (status.gettext("Stored events per family"), zh.gettext(FAILURE_KINDS["district_outage"]),
                 zh.gettext("All messages stored {seconds} s after the last was produced").partition("{")[0]):
        assert told in out.stdout, told
    # Its own broker and database, workers and alerter: all stopped. Only what this demo
    # started counts (its data folder on the command line or in the environment, its
    # broker's address), not other processes of the host.
    before_address, _, after_address = zh.gettext("{address} (embedded)").partition("{address}")
    found = re.search(re.escape(before_address) + r"(\S+?)" + re.escape(after_address), out.stdout)
    assert found, report
    ours = (str(tmp_path), f"tcp://{found.group(1)}")

    def started_by_this_demo(p: psutil.Process) -> bool:
        try:
            words = [*p.cmdline(), *p.environ().values()]
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False
        return any(mark in word for word in words for mark in ours)

    leftovers = [p for p in psutil.process_iter() if p.pid not in before and started_by_this_demo(p)]
    assert leftovers == []
    # The starvation was real: the demo's own processes had well under a core.
    assert cpu < 0.75 * wall, (cpu, wall)
    print(f"demo on a starved core: {wall:.0f}s wall, {cpu:.0f}s CPU")


def test_a_step_that_stops_moving_says_what_is_stuck(monkeypatch: pytest.MonkeyPatch) -> None:
    """No progress for STALLED_S: the step fails naming itself and what holds it; any
    progress at all (however slow) resets the wait."""
    import io

    from rich.console import Console

    from citybrain.demo import run as demo

    monkeypatch.setattr(demo, "STALLED_S", 0.2)
    console = Console(file=io.StringIO())
    with demo._bar(console, MESSAGES.translator("en"), "Storing", 100, "messages") as step:
        for n in range(4):
            step.saw(n, stuck="never said")
            time.sleep(0.1)
        with pytest.raises(demo.Stalled) as stalled:
            for _ in range(5):
                step.saw(3, stuck="97 produced messages are not stored: citybrain.iot 97")
                time.sleep(0.1)
    assert str(stalled.value).startswith("Storing: no progress for 0 s. 97 produced messages are not stored")

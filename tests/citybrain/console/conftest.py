"""The console tests' browser: one Playwright (sync) at a time, per test module — a second
one in the same thread would find the first one's event loop running and refuse, and an
open one would break every later asyncio.run() in the thread."""

from tests.citybrain.console.browser import browser  # noqa: F401  (module fixture)

"""The demo: a simulated city through the whole pipeline, checked against its own story
(``run``), with the alerts it raises (``alerts``), the failures it injected next to what
was recorded (``evidence``) and the self-check (``check``)."""

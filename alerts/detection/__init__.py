"""Detection: readings and liveness state changes in, alerts (firing or clearing) out.

``rules`` (the YAML format), ``readings`` (what a rule reads of an event) and
``evaluate`` (one tracker per rule) produce the raw alerts, titled in the platform's
language by ``wording`` (registry names, states, reasons); the noise-control stages —
``flapping``, ``mute`` (maintenance windows), ``collapse`` (storms and inhibition over
the registry's ``topology``) — share one signature and are assembled in ``pipeline``
(``Detection``). Everything runs on event time (``event_clock``) and holds its state as
JSON, stored with the input offsets (``state``). ``cli``: ``citybrain rules check``.
The alerter (alerts/alerter.py) runs it.
"""

"""Alerting: detection, the 30-minute incident workflow, maintenance and notifiers.

Detection (``pipeline``: rules → flapping → maintenance → topology) turns readings and
the liveness state changes into alerts; ``incidents`` opens, repeats and resolves the
incidents they raise through the ``lifecycle`` transition table, with ``sla`` deadlines
and ``escalation`` steps; ``notifiers`` deliver the pages. ``alerter`` runs it all as a
worker over the broker and the database.
"""

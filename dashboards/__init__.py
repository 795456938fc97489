"""Grafana dashboards as code, and what the store holds now.

``boards/`` holds one builder module per dashboard, over the indicator SQL and the
plumbing here (``board``, ``panels``, ``variables``, ``sql``, ``indicator_sql``);
``build`` writes ``dashboards/json/*.json``; ``push`` (``citybrain dashboards push``)
sends them, the folder and the datasources to Grafana's HTTP API. ``status`` reads and
prints what the store holds now (``citybrain status``); ``metrics_store``
and ``metrics_server`` serve it, with each process's own metrics, to Prometheus.
"""

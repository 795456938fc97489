"""Grafana dashboards as code, and what the store holds now.

``boards/`` holds one builder module per dashboard, over the indicator SQL and the
plumbing here (``board``, ``panels``, ``variables``, ``sql``, ``indicator_sql``), built once
per language with the words of ``texts`` (the package's catalogue, the labels of stored
values); ``build`` writes ``dashboards/json/<language>/*.json``; ``push`` (``citybrain
dashboards push``) sends them, their folders and the datasources to Grafana's HTTP API. ``status`` reads and
prints what the store holds now (``citybrain status``); ``metrics_store``
and ``metrics_server`` serve it, with each process's own metrics, to Prometheus.
"""

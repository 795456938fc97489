"""Grafana dashboards as code: one builder module per dashboard over the indicator SQL.

``dashboards/build.py`` writes ``dashboards/json/*.json``; ``citybrain dashboards push``
sends them, the folder and the datasources to Grafana's HTTP API.
"""

"""Grafana dashboards as code — not built yet (see the operator views issue)."""

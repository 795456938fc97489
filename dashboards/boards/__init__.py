"""One module per dashboard, each a ``build(settings) -> Board`` and its ``UID``.

``overview`` (the five keys against their targets), ``infrastructure``, ``services``
(portals and business systems), ``citizens`` (portal use, 好差评, 12345), ``data``,
``security``, ``incidents`` (incidents and SLA) over the store's SQL; ``pipeline`` (the
platform's own health) over Prometheus.
``dashboards.build`` lists them in the order Grafana shows them; the plumbing they
share (board, panels, variables, SQL) lives one level up, in ``dashboards``.
"""

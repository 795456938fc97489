"""Where a person opens one incident: the one address every link to an incident uses.

Today that is the API's incident resource under ``Settings.public_url``
(``/api/v1/incidents/<id>``, JSON, behind a token); the browser console of issue #17 will
serve an incident page, and then only this function changes. The dashboards call it with
Grafana's field placeholder (``${__data.fields.incident_id}``) as the id, so a table row
links to its incident.
"""

from __future__ import annotations


def incident_url(public_url: str, incident_id: int | str) -> str:
    return f"{public_url.rstrip('/')}/api/v1/incidents/{incident_id}"

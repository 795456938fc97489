"""Where a person opens one incident: the one address every link to an incident uses.

That is the browser console's incident page under ``Settings.public_url``
(``/console/incidents/<id>``): names, clocks, escalation, timeline and the actions; a
reader who is not signed in is sent to the sign-in page and comes back to it. The
dashboards call it with Grafana's field placeholder (``${__data.fields.incident_id}``) as
the id, so a table row links to its incident.
"""

from __future__ import annotations


def incident_url(public_url: str, incident_id: int | str) -> str:
    return f"{public_url.rstrip('/')}/console/incidents/{incident_id}"

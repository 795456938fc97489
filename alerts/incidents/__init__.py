"""Incidents and the 30-minute response workflow.

``store`` folds alerts into incidents (one open per fingerprint) and records what
people do; ``lifecycle`` is the status enum and its transition table; ``sla`` the
response and resolution deadlines and their breaches; ``escalation`` runs each
incident's ladder, the policy ``escalation_policy`` froze onto it at opening, exactly
once per step; ``ack_link`` signs the acknowledge links pages carry and ``urls``
builds the incident page's address (one function); ``disclosure``
decides what the API shows of the addresses paged. ``api`` (``/api/v1/incidents``,
``/api/v1/escalation-policies``) and ``cli`` (``citybrain incidents``) are mounted by the
entry points.
"""

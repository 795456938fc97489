"""Maintenance windows and silences: planned work holds alerts, silences hold pages.

``windows`` validates, expands (RRULE, time zones), stores and removes them, counting
each from its creation; ``muter`` is the one question detection and escalation ask of
them — does a window cover this asset at this instant — answered in SQL (``SqlMuter``)
or, for detection's per-alert checks, from the alerter's in-memory ``calendar``
(``CalendarMuter``). ``api`` (``/api/v1/maintenance``) and ``cli`` (``citybrain
maintenance``) are mounted by the entry points.
"""

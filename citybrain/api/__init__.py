"""The HTTP API (FastAPI): indicators, reports, incidents and maintenance.

Every request carries ``Authorization: Bearer <token>``; a token has one role
(operator, oncall, evaluator, admin) and optionally a department it is limited to.
"""

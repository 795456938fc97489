"""The browser console: sign-in, on-call incident pages, the operators' overview, the
evaluators' reports, the admins' tokens, maintenance, policies and contacts.

Server-rendered pages (Jinja2 templates, ``templates/``) over the same domain functions as
the API and the CLI; the one stylesheet and script are ``static/``, served by the console
itself (nothing from a CDN: it works on an intranet). Chinese first: every text is in the
``citybrain.console`` catalogue. Phone-first: one column, large targets.
"""

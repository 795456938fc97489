"""Alerting, split by stage: detection → incidents (+ maintenance) → notifiers.

* ``detection/``: readings and liveness state changes become alerts — rules
  (``rules``, ``readings``, ``evaluate``), then the noise-control stages, one module
  each and all of one signature, assembled in ``pipeline`` (``flapping`` → ``mute``:
  maintenance windows → ``collapse``: storms and inhibition over ``topology``); what it
  waits for is stored with the input offsets (``state``), on event time
  (``event_clock``). ``citybrain rules`` is its ``cli``.
* ``incidents/``: the 30-minute workflow — the ``store`` opens, repeats and resolves
  incidents through the ``lifecycle`` transition table, with ``sla`` deadlines and
  breaches; ``escalation`` runs the ladder frozen from ``escalation_policy`` at
  opening; ``ack_link`` (signed acknowledge links) and ``disclosure`` (what the API
  shows of addresses); ``api`` and ``cli`` (``citybrain incidents``).
* ``maintenance/``: maintenance windows and silences (``windows``), the alerter's
  in-memory ``calendar``, and the one question both stages ask of them — does a window
  cover this asset now — behind one ``muter`` interface; ``api`` and ``cli``.
* ``notifiers/``: delivery over webhook, WeCom, DingTalk, Feishu and e-mail, with
  retries and an audit entry per attempt.

At the root: ``model`` (the nouns the stages pass on: ``Alert``, ``Notification``,
``Recipient``, ``Outcome``), ``alerter`` (the process that runs detection, the incident
store and the escalation loop: ``citybrain alerter``, in ``cli``) and
``watermark_clock`` (its processing time when events are replayed). The packaged rule
files are in ``rules/``, the escalation policies in ``policies/``.
"""

"""Indicators of the five keys and the 30-minute response mechanism.

``catalogue.yaml`` lists them, ``sql/`` holds one query per indicator, rendered from the
family templates in ``templates/`` (``families``, ``render``: ``citybrain indicators
render``), and ``engine`` runs the committed queries against the store and returns
``model.IndicatorResult`` objects.
"""

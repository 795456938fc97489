"""Indicators of the five keys and the 30-minute response mechanism.

``catalogue.yaml`` lists them, ``sql/`` holds one query per indicator, ``engine`` runs
them against the store and returns ``model.IndicatorResult`` objects.
"""

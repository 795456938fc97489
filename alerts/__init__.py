"""Alerting and the 30-minute incident workflow — not built yet (see the alerting issue).

The liveness tracker already publishes state changes on the state topic that this
package will consume.
"""

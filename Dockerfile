# syntax=docker/dockerfile:1
# One image for all five services and the CLI (ARCHITECTURE §1, deploy.md §1):
#   docker build -t kith:local .
#   docker run kith:local serve importer      # or: migrate | admin dedup-scan --all-accounts
# Runs as UID 10001 with a read-only root filesystem in mind: writes go to /tmp (tmpfs/emptyDir)
# and /var/lib/kith (the files volume, KITH_STORAGE_URL=file:///var/lib/kith).

# The base image pinned by digest (the multi-arch index of python:3.11.14-slim): a rebuild gets
# the same Python and Debian until this line is changed on purpose.
ARG PYTHON_IMAGE=python:3.11.14-slim@sha256:c8271b1f627d0068857dce5b53e14a9558603b527e46f1f901722f935b786a39

# ---- builder: the locked runtime dependencies, then the six packages, into /opt/kith ----
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/kith
RUN pip install "uv==0.13.9"
WORKDIR /src
# 1. Dependencies only, from uv.lock (exact versions, every file's hash checked): the lock and
#    each package's pyproject.toml, so a change to the code alone reuses this layer. Runtime
#    only: `--no-dev` leaves out the dev group, hence kith-common's `dev` extra (the embedded
#    servers, pytest). `--frozen` installs the lock as it is (tests/deploy checks it is current).
COPY pyproject.toml uv.lock ./
COPY libs/kith_common/pyproject.toml libs/kith_common/pyproject.toml
COPY services/gateway/pyproject.toml services/gateway/pyproject.toml
COPY services/importer/pyproject.toml services/importer/pyproject.toml
COPY services/dedup/pyproject.toml services/dedup/pyproject.toml
COPY services/photos/pyproject.toml services/photos/pyproject.toml
COPY services/reset/pyproject.toml services/reset/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-editable --no-install-workspace \
      --python /usr/local/bin/python3
# 2. The six packages themselves (see .dockerignore: each package's pyproject.toml and src/),
#    non-editable. Then the test kit goes: kith_common.testing (the pytest plugin, the fake
#    Monica), the gateway's in-process test server, which imports it, and the plugin's
#    `pytest11` entry point.
COPY libs/kith_common/src libs/kith_common/src
COPY services/gateway/src services/gateway/src
COPY services/importer/src services/importer/src
COPY services/dedup/src services/dedup/src
COPY services/photos/src services/photos/src
COPY services/reset/src services/reset/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-editable \
      --python /usr/local/bin/python3 \
 && rm -rf /opt/kith/lib/python3.11/site-packages/kith_common/testing \
      /opt/kith/lib/python3.11/site-packages/kith_gateway/testing_server.py \
      /opt/kith/lib/python3.11/site-packages/kith_gateway/testing.py \
 && sed -i '/^\[pytest11\]/,/^$/d' \
      /opt/kith/lib/python3.11/site-packages/kith_common-*.dist-info/entry_points.txt

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

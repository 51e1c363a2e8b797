# The three images from one file; choose one with --target (build from the repository root):
#   docker build --target api      -t ghcr.io/scoreboard-dev/scoreboard-api:dev .
#   docker build --target realtime -t ghcr.io/scoreboard-dev/scoreboard-realtime:dev .
#   docker build --target operator -t ghcr.io/scoreboard-dev/scoreboard-operator:dev .
# Build stages: uv installs the locked dependencies and the workspace packages (non-editable)
# into /app/.venv. Final stages: the Python base with that venv only, running as an
# unprivileged user and fine with a read-only root filesystem (the chart mounts /tmp). No build
# tools ship. `make images` (scripts/build-images.sh) builds all three, on a base made from
# Debian's packages when python:slim cannot be pulled (PYTHON_IMAGE selects it).
# Plain Dockerfile syntax (no `# syntax=` frontend, no RUN --mount): the legacy builder works.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS workspace
ARG UV_VERSION=0.13.9
# A CA bundle for the build stages only (a proxy's CA, say): scripts/build-images.sh puts the
# host's bundle at .build/ca-certificates.crt (git-ignored). The glob copies nothing when it is
# absent; the final images start from a fresh base and never get it.
COPY pyproject.toml .build/ca-certificates.cr[t] /tmp/build-ca/
RUN if [ -f /tmp/build-ca/ca-certificates.crt ]; then \
      mkdir -p /etc/ssl/certs && cp /tmp/build-ca/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt; \
    fi; rm -rf /tmp/build-ca
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# uv in a venv of its own (Debian's python3 has no pip of its own), linked onto PATH so that
# `python3` stays the base interpreter the images run.
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}" \
 && ln -s /opt/uv/bin/uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Every workspace member's pyproject.toml is needed to read the lockfile; only the
# packages an image installs need their sources.
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/pyproject.toml
COPY services/api/pyproject.toml services/api/pyproject.toml
COPY services/realtime/pyproject.toml services/realtime/pyproject.toml
COPY operator/pyproject.toml operator/pyproject.toml
COPY tools/devstack/pyproject.toml tools/devstack/pyproject.toml

# One build stage per image: dependencies first (cached until uv.lock changes), then the code.
FROM workspace AS build-api
RUN uv sync --frozen --no-dev --no-install-workspace --package scoreboard-api
COPY libs/common libs/common
COPY services/api services/api
RUN uv sync --frozen --no-dev --no-editable --package scoreboard-api

FROM workspace AS build-realtime
RUN uv sync --frozen --no-dev --no-install-workspace --package scoreboard-realtime
COPY libs/common libs/common
COPY services/realtime services/realtime
RUN uv sync --frozen --no-dev --no-editable --package scoreboard-realtime

FROM workspace AS build-operator
RUN uv sync --frozen --no-dev --no-install-workspace --package scoreboard-operator
COPY libs/common libs/common
COPY operator operator
RUN uv sync --frozen --no-dev --no-editable --package scoreboard-operator

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.source="https://github.com/scoreboard-dev/scoreboard" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 scoreboard \
 && useradd --system --uid 10001 --gid scoreboard --no-create-home --shell /usr/sbin/nologin scoreboard
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001

FROM runtime AS api
LABEL org.opencontainers.image.title="scoreboard-api"
COPY --from=build-api --chown=root:root /app/.venv /app/.venv
EXPOSE 8000
ENTRYPOINT ["scoreboard-api"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

FROM runtime AS realtime
LABEL org.opencontainers.image.title="scoreboard-realtime"
COPY --from=build-realtime --chown=root:root /app/.venv /app/.venv
EXPOSE 8001
ENTRYPOINT ["scoreboard-realtime"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8001"]

FROM runtime AS operator
LABEL org.opencontainers.image.title="scoreboard-operator"
COPY --from=build-operator --chown=root:root /app/.venv /app/.venv
EXPOSE 8080 9090
ENTRYPOINT ["scoreboard-operator"]
CMD ["run"]

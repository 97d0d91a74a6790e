# kafka-connect-healthcheck as a container: docs/container.md says how to build, run and probe it.
#
# The default base is the official slim Python image. Where no registry is reachable, pass a local one:
# `make image` builds on a Debian root filesystem made with debootstrap (deploy/podman/build-image.sh).
ARG BASE_IMAGE=python:3.11-slim

# --- requirements: the runtime dependencies, read from setup.cfg's install_requires.
FROM ${BASE_IMAGE} AS requirements
WORKDIR /src
COPY setup.cfg ./
RUN python3 -c 'import configparser; c = configparser.ConfigParser(); c.read("setup.cfg"); \
print(c["options"]["install_requires"].strip())' > requirements.txt

# --- builder: a virtualenv with the dependencies, then the package; only /opt/venv leaves this stage.
FROM ${BASE_IMAGE} AS builder
# The package index pip uses; pip's own default unless the build passes another.
ARG PIP_INDEX_URL=https://pypi.org/simple
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_INDEX_URL=${PIP_INDEX_URL}
RUN python3 -m venv /opt/venv
WORKDIR /src

# Dependencies first. The layer below is keyed on the content of requirements.txt, so it is rebuilt only
# when install_requires changes: not for a code change, nor for any other edit of setup.cfg.
# A CA bundle for pip (for a proxy that re-signs TLS) comes in as the build secret `pipcert`, mounted for
# this command only and never written to a layer.
COPY --from=requirements /src/requirements.txt ./
RUN --mount=type=secret,id=pipcert \
    if [ -s /run/secrets/pipcert ]; then export PIP_CERT=/run/secrets/pipcert; fi; \
    /opt/venv/bin/pip install --requirement requirements.txt

# Then the code. pip and setuptools are needed only to install: removed so they do not ship.
COPY setup.cfg pyproject.toml ./
COPY healthcheck/ healthcheck/
RUN --mount=type=secret,id=pipcert \
    if [ -s /run/secrets/pipcert ]; then export PIP_CERT=/run/secrets/pipcert; fi; \
    /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools

# --- final: the base Python, the venv, a non-root user. No compiler, no pip, no pip cache.
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="kafka-connect-healthcheck" \
      org.opencontainers.image.description="One HTTP answer for the health of a Kafka Connect cluster" \
      org.opencontainers.image.licenses="Apache-2.0"
# --no-log-init: a high uid would otherwise grow /var/log/lastlog into a huge sparse file.
RUN groupadd --gid 10001 healthcheck \
    && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin healthcheck
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 18083
# Liveness of the process only (/ping); whether Connect is healthy is `/`, for the orchestrator to decide.
# It knocks where the server listens (HEALTHCHECK_HOST/PORT; a wildcard address means loopback). No curl in a
# slim image: Python's urllib. A non-2xx answer or no answer raises, and python exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request; h = os.environ.get('HEALTHCHECK_HOST', '').strip(); h = '127.0.0.1' if h in ('', '0.0.0.0', '::') else h; h = f'[{h}]' if ':' in h else h; urllib.request.urlopen(f\"http://{h}:{os.environ.get('HEALTHCHECK_PORT', '18083').strip()}/ping\", timeout=4)"]
# gunicorn's master is PID 1: SIGTERM (docker stop, Kubernetes) stops it gracefully with exit status 0.
ENTRYPOINT ["kafka-connect-healthcheck"]

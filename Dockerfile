# closeloop's image: assets built with Node at build time (no Node at run time), Python packages
# installed from requirements.lock with their hashes, static files collected into the image,
# a non-root user, and a root file system that may be read-only (state lives in the volume
# /var/lib/closeloop and in /tmp). docs/deployment.md walks through it.
#
#   docker build -t closeloop .
#   docker compose up            (PostgreSQL, the web, two workers; see docker-compose.yml)

ARG PYTHON_IMAGE=python:3.12-slim-trixie
ARG NODE_IMAGE=node:22-trixie-slim

# --- 1. front-end bundles (esbuild from npm) ----------------------------------------------
FROM ${NODE_IMAGE} AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY scripts/ scripts/
COPY closeloop/static/src/ closeloop/static/src/
RUN npm run --silent build

# --- 2. Python packages from the lock, the code, collected static files -------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/closeloop
COPY requirements.lock /tmp/requirements.lock
RUN /opt/closeloop/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock
WORKDIR /app
COPY closeloop/ closeloop/
COPY --from=assets /src/closeloop/static/dist/ closeloop/static/dist/
# Hashed, compressed static files baked into the image: an upgrade is a new image whose
# manifest always matches its code (no static volume to go stale).
RUN CLOSELOOP_ENV=production CLOSELOOP_DATA_DIR=/tmp/build CLOSELOOP_SECRET_KEY=build-only-not-secret \
      CLOSELOOP_STATIC_ROOT=/app/static PYTHONPATH=/app \
      /opt/closeloop/bin/python -m closeloop.cli collectstatic --no-input -v0 \
 && rm -rf /tmp/build \
 && /opt/closeloop/bin/python -m compileall -q /app/closeloop /opt/closeloop/lib

# --- 3. what runs ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# pg_dump/pg_restore/psql for `closeloop backup` and `closeloop restore` (17 in trixie: the
# server must not be newer than the client).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/closeloop --no-create-home closeloop \
 && mkdir -p /var/lib/closeloop && chown closeloop:closeloop /var/lib/closeloop \
 && printf '#!/bin/sh\nexec /opt/closeloop/bin/python -m closeloop.cli "$@"\n' > /usr/local/bin/closeloop \
 && chmod 755 /usr/local/bin/closeloop
COPY --from=build /opt/closeloop /opt/closeloop
COPY --from=build /app /app
ENV PATH=/opt/closeloop/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CLOSELOOP_ENV=production \
    CLOSELOOP_DATA_DIR=/var/lib/closeloop \
    CLOSELOOP_MEDIA_ROOT=/var/lib/closeloop/media \
    CLOSELOOP_STATIC_ROOT=/app/static \
    PROMETHEUS_MULTIPROC_DIR=/tmp/closeloop-metrics
WORKDIR /var/lib/closeloop
VOLUME ["/var/lib/closeloop"]
USER closeloop
EXPOSE 8000
# Asks with a Host that CLOSELOOP_ALLOWED_HOSTS accepts (a real installation lists only its own name;
# 127.0.0.1 would be a 400 there).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s \
  CMD python -c "import os, urllib.request as u; h = next((x.strip().lstrip('.') for x in os.environ.get('CLOSELOOP_ALLOWED_HOSTS', '').split(',') if x.strip() not in ('', '*')), 'localhost'); u.urlopen(u.Request('http://127.0.0.1:8000/livez', headers={'Host': h}), timeout=4)" || exit 1
ENTRYPOINT ["closeloop"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]

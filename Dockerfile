# syntax=docker/dockerfile:1
# One image for the three MentorMesh services; the service is the argument:
#   docker build -t mentormesh .
#   docker run --read-only --tmpfs /tmp -e MENTORMESH_KAFKA_BOOTSTRAP=... \
#       -e MENTORMESH_MONGO_URI=... mentormesh matcher      # or network, notifier
# Dependencies install from deploy/requirements.lock (every version pinned, every file
# checked by its sha256; `make lock` rewrites it). No dev or local-stack package is in
# the image. It runs as uid 10001, and only /tmp needs to be writable.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY deploy/requirements.lock deploy/build-requirements.lock deploy/
# The runtime venv gets exactly the locked dependencies; the wheel is built with a
# locked setuptools in a separate venv that stays in this stage.
RUN python -m venv /opt/mentormesh \
    && /opt/mentormesh/bin/pip install --require-hashes --no-deps -r deploy/requirements.lock \
    && python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes -r deploy/build-requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY shared ./shared
COPY services ./services
COPY programmes ./programmes
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/dist . \
    && /opt/mentormesh/bin/pip install --no-deps /tmp/dist/mentormesh-*.whl \
    && /opt/mentormesh/bin/pip uninstall --yes pip

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="MentorMesh" \
      org.opencontainers.image.description="Matching, introductions and nudges for mentorship programmes, over Kafka" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 mentormesh \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin mentormesh
COPY --from=build /opt/mentormesh /opt/mentormesh
# Bytecode was compiled at install; nothing is written below / at run time (the
# state directory and matplotlib's cache, used by offline commands, go to /tmp).
ENV PATH=/opt/mentormesh/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    MENTORMESH_STATE_DIR=/tmp/mentormesh \
    MENTORMESH_HTTP_HOST=0.0.0.0 \
    MENTORMESH_HTTP_PORT=8080
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
# `python -m shared.container probe` is `mentormesh probe` without importing every
# service's offline tools: cheap enough to run every few seconds.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "shared.container", "probe", "/healthz"]
ENTRYPOINT ["mentormesh", "serve"]
CMD ["matcher"]

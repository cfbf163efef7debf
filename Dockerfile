# syntax=docker/dockerfile:1.7@sha256:a57df69d0ea827fb7266491f2813635de6f17269be881f696fbfdf2d83dda33e
# personio-sync operator image (docs/image.md).
#
# Stage 1 installs the runtime dependencies, hash-checked and binary-only, from
# requirements-runtime.lock into a virtualenv without pip, then builds the package's
# wheel (with setuptools from the hash-checked requirements-build.lock) and adds it; the
# wheel's name carries pyproject.toml's version, the only place it is written.
# The frontend line is pinned by digest, as the base is (docker/dockerfile 1.7).
# Stage 2 is the base plus that virtualenv: no pip, no compilers, no build tools, no
# tests, no source tree.
#
# BASE is the production base, pinned by digest (a multi-arch index). The image tests
# build against a local stand-in made from Debian packages (hack/image/build.sh), since
# no registry is reachable there; both stages must use the same base, because the
# virtualenv points at the base's python3.
ARG BASE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
WORKDIR /src
# Two virtualenvs: /opt/tools holds pip and the build backend, /opt/venv only what runs.
RUN python3 -m venv /opt/tools \
 && python3 -m venv --without-pip /opt/venv
COPY requirements-build.lock requirements-runtime.lock ./
RUN /opt/tools/bin/pip install --require-hashes --only-binary=:all: \
      -r requirements-build.lock \
 && /opt/tools/bin/pip --python /opt/venv/bin/python install --require-hashes \
      --only-binary=:all: --no-deps -r requirements-runtime.lock
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN /opt/tools/bin/pip wheel --no-build-isolation --no-deps --wheel-dir /wheels . \
 && /opt/tools/bin/pip --python /opt/venv/bin/python install --no-index --no-deps \
      /wheels/personio_sync-*-py3-none-any.whl

FROM ${BASE}
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# A fixed numeric UID/GID, so Kubernetes can verify runAsNonRoot without a passwd lookup;
# the passwd entry still exists for libraries that ask for the user name. The base's own
# pip, setuptools and wheel go: nothing in the image can install anything.
RUN groupadd --system --gid 10001 personio-sync \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin personio-sync \
 && if python3 -c 'import pip' 2>/dev/null; then \
      python3 -m pip uninstall --yes --quiet pip setuptools wheel; fi \
 && rm -rf /usr/share/python-wheels /usr/local/bin/pip*
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
# /healthz (probes) and /metrics (Prometheus); PERSONIO_SYNC_HTTP_PORT changes it.
EXPOSE 8080
ENTRYPOINT ["personio-sync"]
CMD ["run", "--all-namespaces"]

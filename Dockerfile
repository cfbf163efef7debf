# syntax=docker/dockerfile:1
# personio-sync operator image.
#
# Not built in this repository's CI: the development machines have no container engine.
# `make test` lints this file with hadolint; build it where Docker or Podman exist:
#   docker build -t <registry>/personio-sync:0.1.0 .
#
# Stage 1 builds wheels for the package and every runtime dependency, pinned by
# requirements.lock (used as a constraints file: only what the package needs is built,
# none of the development tools the lock also pins). Stage 2 installs those wheels
# offline into a clean slim image: no compilers, no pip cache, no source tree.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY operator ./operator
RUN pip wheel --constraint requirements.lock --wheel-dir /wheels .

FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# A fixed numeric UID/GID, so Kubernetes can verify runAsNonRoot without a passwd lookup;
# the passwd entry still exists for libraries that ask for the user name.
RUN groupadd --system --gid 10001 personio-sync \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin personio-sync
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels personio-sync==0.1.0
USER 10001:10001
# /healthz (probes) and /metrics (Prometheus); PERSONIO_SYNC_HTTP_PORT changes it.
EXPOSE 8080
ENTRYPOINT ["personio-sync"]
CMD ["run", "--all-namespaces"]

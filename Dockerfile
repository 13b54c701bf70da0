# syntax=docker/dockerfile:1
# Multi-stage: build a wheel and its dependencies in a builder, install them into a clean
# virtualenv, and ship only that virtualenv on a slim Python base as a non-root user.
#
# BASE_IMAGE: any Debian-based image with python3 (and its venv module) at the same path in
# both stages. Default: the public python slim image. The tests build this same file on a
# Debian bookworm base made with debootstrap (ccoperator_envtest.image), as no registry is
# reachable there.

ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN python3 -m venv /opt/ccoperator \
 && /opt/ccoperator/bin/pip install --upgrade pip \
 && /opt/ccoperator/bin/pip install .

FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ccoperator" \
      org.opencontainers.image.description="Kubernetes operator for ClientCredentialClient resources" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 ccoperator \
 && useradd --system --uid 10001 --gid ccoperator --no-create-home --shell /usr/sbin/nologin ccoperator
COPY --from=build /opt/ccoperator /opt/ccoperator
ENV PATH=/opt/ccoperator/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8080 9090
# Kubernetes ignores HEALTHCHECK; deploy/ probes /healthz on the port the settings choose.
# checkov:skip=CKV_DOCKER_2:Kubernetes ignores HEALTHCHECK; the Deployment has liveness and readiness probes on /healthz
# checkov:skip=CKV_DOCKER_7:The base is the BASE_IMAGE build argument, whose default python:3.11-slim is a pinned tag; Checkov cannot read a tag through an ARG
ENTRYPOINT ["ccoperator"]
CMD ["run"]

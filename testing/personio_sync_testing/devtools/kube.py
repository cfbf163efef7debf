"""Kubernetes access for tests and dev tools: lightkube, the operator's library.

Tests use lightkube's sync `Client` (and `AsyncClient`) as they are; this module holds
only what they share: the PersonioSync generic resource (a dict, as the tests read it),
clients from a kubeconfig file (exec plugins included, like the operator), and the guard
that refuses a context that is not clearly a test cluster.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
from lightkube import AsyncClient, Client
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.core.exceptions import ConfigError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace
from lightkube.types import PatchType

from personio_sync.resource.spec import API_GROUP, API_VERSION, KIND, PLURAL

TEST_CONTEXT_HINTS = ("kind", "minikube", "k3d", "test", "local", "envtest")
TIMEOUT = httpx2.Timeout(30.0)
MERGE = PatchType.MERGE  # CRDs take no strategic merge patch, lightkube's default

# `client.get(PersonioSync, name, namespace=ns)`; its status: `PersonioSync.Status`.
PersonioSync = create_namespaced_resource(API_GROUP, API_VERSION, KIND, PLURAL)


class KubeconfigError(ValueError):
    """The kubeconfig cannot be used (or is not a test cluster's); the message says why."""


def kube_config(path: Path, context: str | None = None) -> SingleConfig:
    """One context of a kubeconfig file (its current one unless named)."""
    try:
        config = KubeConfig.from_file(path).get(context)
    except ConfigError as exc:
        raise KubeconfigError(f"{path}: {exc}") from None
    if config is None:  # only without a context and without a default: not reached
        raise KubeconfigError(f"{path}: no current context")
    return config


def sync_client(config: SingleConfig) -> Client:
    return Client(config, timeout=TIMEOUT, field_manager="personio-sync-tests")


def async_client(config: SingleConfig) -> AsyncClient:
    return AsyncClient(config, timeout=TIMEOUT, field_manager="personio-sync-tests")


def create_namespace(client: Client, name: str, labels: dict[str, str] | None = None) -> None:
    client.create(Namespace(metadata=ObjectMeta(name=name, labels=labels)))


def looks_like_test_context(name: str) -> bool:
    """True for context names such as kind-x, minikube, k3d-dev, envtest, docker-local."""
    lowered = name.lower()
    return any(hint in lowered for hint in TEST_CONTEXT_HINTS)


def check_test_context(config: SingleConfig, allowed: str | None) -> None:
    """Refuse to run destructive tests against a cluster that is not clearly a test cluster.

    `allowed` is the explicit opt-in: the exact context name the user accepts.
    """
    name = config.context_name
    if looks_like_test_context(name) or (allowed and allowed == name):
        return
    raise KubeconfigError(
        f"refusing to run tests against context {name!r} ({config.cluster.server}): its name "
        f"contains none of {', '.join(TEST_CONTEXT_HINTS)}. If it really is a test cluster, "
        f"set PERSONIO_SYNC_E2E_ALLOW_CONTEXT={name}"
    )

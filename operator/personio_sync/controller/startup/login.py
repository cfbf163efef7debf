"""kopf logs in with the operator's own Kubernetes configuration (clients/kube.py).

One loader, lightkube's, decides where the API server is and who we are: in a pod the
service account, else the kubeconfig, exec plugins (EKS, GKE, AKS) included. kopf gets
the same server, CA and client certificate, and the Authorization header lightkube would
send now. A token from an exec plugin or a rotated token file does not live forever, so
those credentials carry an `expiration` and kopf logs in again before it ends (and, as
always, on a 401).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import kopf
from lightkube.config.kubeconfig import SingleConfig

from personio_sync.clients.kube import authorization

# Exec-plugin tokens live 15 minutes (EKS) to an hour (GKE); service-account tokens an
# hour or more. Logging in again sooner costs one plugin run.
RELOGIN_AFTER = timedelta(minutes=10)


def _path(config: SingleConfig, path: str | None) -> str | None:
    """A kubeconfig path, relative to the kubeconfig's own folder as kubectl reads it."""
    return os.fspath(config.abs_file(path)) if path else None


async def connection_info(
    config: SingleConfig, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> kopf.ConnectionInfo:
    """kopf's credentials for `config`: runs the exec plugin (or reads the token file) now."""
    cluster, user = config.cluster, config.user
    scheme, _, token = (await authorization(config) or "").partition(" ")
    refreshing = user is not None and (user.exec is not None or user.token_file is not None)
    return kopf.ConnectionInfo(
        server=cluster.server,
        ca_path=_path(config, cluster.certificate_auth),
        ca_data=cluster.certificate_auth_data,
        insecure=cluster.insecure,
        scheme=scheme or None,
        token=token or None,
        certificate_path=_path(config, user.client_cert) if user else None,
        certificate_data=user.client_cert_data if user else None,
        private_key_path=_path(config, user.client_key) if user else None,
        private_key_data=user.client_key_data if user else None,
        default_namespace=config.context.namespace,
        expiration=now() + RELOGIN_AFTER if refreshing else None,
    )

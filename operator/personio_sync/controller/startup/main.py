"""`personio-sync run`: start kopf with our handlers, settings and scope.

High availability (several replicas): unless standalone, the replicas elect one leader
through a coordination.k8s.io/v1 Lease (controller/leadership.py) named by `--peering`
(default "personio-sync") in the operator's own namespace (POD_NAMESPACE). Only the
leader's workers sync. kopf itself always runs standalone: every replica watches, so a
standby holds current state and takes over within seconds; kopf's own peering would
pause the watches, and its heartbeat cannot fence a frozen leader.
"""

from __future__ import annotations

import asyncio
import logging

import kopf

from personio_sync.controller.leadership import DEFAULT_LEASE_NAME
from personio_sync.controller.settings import LogFormat, OperatorSettings, load_settings
from personio_sync.controller.startup.handlers import registry
from personio_sync.controller.startup.httpserver import listen
from personio_sync.errors import ConfigError


def configure_logging(settings: OperatorSettings) -> None:
    kopf.configure(
        debug=settings.log_level.value == "DEBUG",
        log_format=kopf.LogFormat.JSON
        if settings.log_format is LogFormat.json
        else kopf.LogFormat.FULL,
    )
    logging.getLogger().setLevel(settings.log_level.value)
    # One line per HTTP call is noise at INFO; and request lines are not ours to print.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # lightkube's (Kubernetes API)
    if settings.log_level.value != "DEBUG":  # "Handler 'resource_event' succeeded" per event
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if settings.log_level.value != "DEBUG":
        for handler in logging.getLogger().handlers:
            handler.addFilter(quiet_kopf_retries)


def quiet_kopf_retries(record: logging.LogRecord) -> bool:
    """Drop kopf's ERROR line per retried API call (KUBE-1): during an API server outage it
    writes one per attempt of every watch and event; our client logs the outage once. Its
    final "giving up" line stays."""
    return not (record.name.startswith("kopf.") and "failed; will retry" in record.getMessage())


def scope(
    namespaces: list[str] | None, all_namespaces: bool, settings: OperatorSettings
) -> list[str]:
    """Namespaces to watch; empty means cluster-wide. The command line wins over settings."""
    if all_namespaces:
        return []
    return list(namespaces or settings.namespaces)


async def operate(
    namespaces: list[str],
    *,
    settings: OperatorSettings,
    peering: str | None = None,
    standalone: bool = False,
    liveness: str | None = None,
    stop_flag: asyncio.Event | None = None,
) -> None:
    """The operator as a coroutine (tests may pass `stop_flag`).

    `peering` names the leader Lease (default "personio-sync"); `standalone` runs
    without one: this process alone syncs."""
    lease = None if standalone else (peering or DEFAULT_LEASE_NAME)
    # Bound first: a taken port is a ConfigError now, not a startup retried forever.
    sock = listen(settings.http_host, settings.http_port)
    hooks = None  # HOOK-15: a port only when webhooks are on
    if settings.webhooks_enabled:
        try:
            hooks = listen(
                settings.http_host,
                settings.webhook_port,
                serving="Personio webhooks",
                setting="PERSONIO_SYNC_WEBHOOK_PORT (or PERSONIO_SYNC_HTTP_HOST)",
            )
        except ConfigError:
            sock.close()
            raise
    logging.getLogger(__name__).info(  # UX-10: who gets no status knows where to look
        "serving PersonioSync resources in %s",
        f"namespaces {', '.join(namespaces)} only" if namespaces else "every namespace",
    )
    try:
        await kopf.operator(
            registry=registry,
            clusterwide=not namespaces,
            namespaces=namespaces,
            standalone=True,  # kopf's peering stays off: our Lease decides (see above)
            liveness_endpoint=liveness,
            memo=kopf.Memo(settings=settings, lease=lease, http_socket=sock, webhook_socket=hooks),
            stop_flag=stop_flag,
        )
    finally:
        sock.close()
        if hooks is not None:
            hooks.close()


def run_operator(
    namespaces: list[str] | None = None,
    all_namespaces: bool = False,
    *,
    peering: str | None = None,
    standalone: bool = False,
    liveness: str | None = None,
) -> int:
    """Run until SIGINT/SIGTERM. Raises ConfigError (exit 2 in the CLI) on bad settings,
    and when the HTTP port cannot be bound."""
    settings = load_settings()
    configure_logging(settings)
    asyncio.run(
        operate(
            scope(namespaces, all_namespaces, settings),
            settings=settings,
            peering=peering,
            standalone=standalone,
            liveness=liveness,
        )
    )
    return 0

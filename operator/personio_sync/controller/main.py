"""`personio-sync run`: start kopf with our handlers, settings and scope.

Peering (several replicas): with `peering`, kopf lets one replica work and pauses the
others. Replicas of one Deployment would all get the same priority and pause each
other, so by default the oldest process wins (priority falls with start time): a new
replica waits until the active one is gone instead of taking over mid-run.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import kopf

from personio_sync.controller.handlers import registry
from personio_sync.controller.peering import PeeringConfig, own_identity
from personio_sync.settings import LogFormat, OperatorSettings, load_settings

DEFAULT_PEERING = "default"  # kopf's name when --peering is not given


def kopf_identity(identity: str) -> Any:
    """kopf types its identity as a NewType of str; it is a plain str at run time."""
    return identity


def oldest_wins_priority(now: float | None = None) -> int:
    """Lower for later starts; random low digits break ties between simultaneous starts."""
    started_ms = int((time.time() if now is None else now) * 1000)
    return -(started_ms * 1000 + random.randrange(1000))


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
    priority: int | None = None,
    stop_flag: asyncio.Event | None = None,
) -> None:
    """The operator as a coroutine (tests may pass `stop_flag`).

    Unless standalone, our workers follow the same peering object kopf uses (the named
    one, or kopf's "default" when it auto-detects peering)."""
    config = None
    if not standalone:
        config = PeeringConfig(
            name=peering or DEFAULT_PEERING,
            identity=own_identity(),
            priority=oldest_wins_priority() if priority is None else priority,
            clusterwide=not namespaces,
        )
    await kopf.operator(
        registry=registry,
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=True if standalone else None,
        peering_name=peering,
        priority=config.priority if config else None,
        identity=kopf_identity(config.identity) if config else None,
        liveness_endpoint=liveness,
        memo=kopf.Memo(settings=settings, peering=config),
        stop_flag=stop_flag,
    )


def run_operator(
    namespaces: list[str] | None = None,
    all_namespaces: bool = False,
    *,
    peering: str | None = None,
    standalone: bool = False,
    liveness: str | None = None,
    priority: int | None = None,
) -> int:
    """Run until SIGINT/SIGTERM. Raises ConfigError (exit 2 in the CLI) on bad settings."""
    settings = load_settings()
    configure_logging(settings)
    asyncio.run(
        operate(
            scope(namespaces, all_namespaces, settings),
            settings=settings,
            peering=peering,
            standalone=standalone,
            liveness=liveness,
            priority=priority,
        )
    )
    return 0

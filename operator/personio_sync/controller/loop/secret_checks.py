"""When a worker checks its Secret next, and what a failed check leaves behind (SCALE-2).

SEC-1 bounds the time to notice a rotation by PERSONIO_SYNC_SECRET_CHECK_SECONDS. Slept
out exactly, every worker started together (a restart, a thousand resources created at
once) would check in the same second of every five minutes; each sleep is drawn instead
from the last quarter before the bound, so the checks spread out and the bound holds.

A check that fails is looked at again sooner, backing off from the retry base to the
bound, and is seen: counted per namespace on /metrics, logged once per streak (a refusal
as a warning; an API server that does not answer at info, since the Kubernetes client
warns of the outage once for everyone), and its end is logged too.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from personio_sync.controller.context import Context
from personio_sync.controller.runs.inputs import SecretRead
from personio_sync.errors import KubeUnavailable

log = logging.getLogger("personio_sync.controller")

SPREAD = 0.25  # the share of the bound the sleeps are drawn from, just below it


class SecretChecks:
    """One resource's Secret checks: their failure streak and the next sleep's bound."""

    def __init__(
        self,
        ctx: Context,
        namespace: str,
        name: str,
        *,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.ctx, self.namespace, self.name, self.draw = ctx, namespace, name, draw
        self.failures = 0  # consecutive failed checks

    def record(self, read: SecretRead) -> None:
        """Note a check's outcome: count and log a failure, log the end of a streak."""
        failure = read.failure
        if failure is None:
            if self.failures:
                log.info(
                    "%s/%s: Secret %r checked again after %d failed checks",
                    self.namespace, self.name, read.name, self.failures,
                )  # fmt: skip
            self.failures = 0
            return
        self.failures += 1
        unavailable = isinstance(failure, KubeUnavailable)
        reason = "unavailable" if unavailable else "refused"
        self.ctx.metrics.secret_check_failures.labels(self.namespace, reason).inc()
        if self.failures == 1:
            level = logging.INFO if unavailable else logging.WARNING
            log.log(
                level, "%s/%s: cannot check Secret %r (%s); looking again within %.0f s",
                self.namespace, self.name, read.name, failure, self.retry_within(),
            )  # fmt: skip

    def retry_within(self) -> float:
        """After a failed check: the retry base, doubled per failure, up to the bound."""
        settings = self.ctx.settings
        backoff: float = settings.retry_base_seconds * 2 ** max(self.failures - 1, 0)
        return min(backoff, settings.secret_check_seconds)

    def within(self) -> float:
        """The longest the worker may sleep before its next check."""
        bound = self.retry_within() if self.failures else self.ctx.settings.secret_check_seconds
        return bound * (1 - SPREAD * self.draw())

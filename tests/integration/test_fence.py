"""D-Lease over HTTP: once the fence closes (the replica lost its Lease), awork gets no write.

The fence is what the operator passes in (`LeaderElector.fence`); here a plain function
that closes on a condition read from the fake's journal.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from runner_helpers import DEMO, OWNER, TODAY, awork_writes, make_spec

from personio_sync.errors import LeadershipLost
from personio_sync.resource.spec_policy import policy_of
from personio_sync.sync.runner import Endpoints, Tuning, delete_owned, run_sync
from personio_sync_testing.fakes import Sandbox


def closes_when(condition: Callable[[], bool]) -> Callable[[], None]:
    def fence() -> None:
        if condition():
            raise LeadershipLost("lease lost (test)")

    return fence


async def sync_fenced(sandbox: Sandbox, fence: Callable[[], None]) -> None:
    await run_sync(
        policy_of(make_spec()),
        DEMO,
        owner_key=OWNER,
        endpoints=Endpoints(sandbox.personio_url, sandbox.awork_url),
        today=TODAY,
        tuning=Tuning(write_concurrency=1),
        fence=fence,
    )


async def test_d_lease_a_closed_fence_stops_the_run_before_the_next_write(demo: Sandbox) -> None:
    with pytest.raises(LeadershipLost):
        await sync_fenced(demo, closes_when(lambda: len(awork_writes(demo)) >= 3))
    assert len(awork_writes(demo)) == 3  # the demo plan has 7 creates


async def test_d_lease_a_write_waiting_for_its_retry_is_not_sent_after_the_fence_closes(
    demo: Sandbox,
) -> None:
    """The last check is right before the request leaves (an httpx hook), not only when
    the write is picked: a write in back-off (or in the pacer) re-checks the fence."""
    demo.awork.inject({"kind": "status", "path_prefix": "/absences", "method": "POST", "times": 1})
    with pytest.raises(LeadershipLost):
        await sync_fenced(demo, closes_when(lambda: len(awork_writes(demo)) >= 1))
    assert [e.fault for e in awork_writes(demo)] == ["status"]  # the retry never went out


async def test_d_lease_delete_owned_deletes_nothing_behind_a_closed_fence(demo: Sandbox) -> None:
    await sync_fenced(demo, lambda: None)
    created = len(awork_writes(demo))
    with pytest.raises(LeadershipLost):
        await delete_owned(
            DEMO,
            owner_key=OWNER,
            endpoints=Endpoints(demo.personio_url, demo.awork_url),
            fence=closes_when(lambda: True),
        )
    assert len(awork_writes(demo)) == created

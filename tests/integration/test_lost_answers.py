"""D-Once-2 over HTTP: a create whose answer is late, cut or lost is settled in the same run
(issue 15). Whatever awork did with the POST, the run ends with one absence per period
and reports exactly what awork holds; a run whose answers all arrive looks nothing up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from runner_helpers import fast_clients, sandbox_for, sync

from personio_sync.engine.marker import parse_marker
from personio_sync_testing.fakes import Sandbox, demo_seed_path

DEMO_PERIODS = 7
TIMEOUT = 0.4  # the client gives up on an answer after this long
POST = {"path_prefix": "/absences", "method": "POST", "after": 2, "times": 1}


@pytest.fixture
def demo() -> Iterator[Sandbox]:
    with sandbox_for(demo_seed_path()) as sandbox:
        yield sandbox


def per_period(sandbox: Sandbox) -> Counter[str]:
    markers = (parse_marker(a.externalProvider) for a in sandbox.awork_state.absences.values())
    return Counter(m[1] for m in markers if m is not None)


def look_ups(sandbox: Sandbox) -> int:
    """GETs of one exact marker: the client asking whether a create took effect."""
    return sum(
        1
        for e in sandbox.awork.journal.entries()
        if e.method == "GET" and "externalProvider eq" in e.query.get("filterby", "")
    )


FAULTS = [
    # awork commits 0.4 s after the client gave up: found by the patient look-up
    pytest.param({"kind": "late_commit", "hold_ms": 800}, 1, id="commit-after-give-up"),
    pytest.param({"kind": "lost_answer"}, 1, id="store-then-stall"),
    pytest.param({"kind": "timeout"}, 0, id="stall-never-stores"),
    pytest.param({"kind": "drop_answer"}, 1, id="answer-dropped"),
]


@pytest.mark.parametrize(("fault", "settled"), FAULTS)
async def test_d_once_2_a_create_whose_answer_went_missing_is_settled_in_the_same_run(
    demo: Sandbox, fault: dict[str, Any], settled: int
) -> None:
    demo.awork.inject({**POST, **fault})
    async with fast_clients(demo, http_timeout=TIMEOUT, awork={"settle_seconds": 2.0}) as clients:
        report = await sync(demo, clients=clients)
        assert clients.awork.stats.settled == settled
    assert per_period(demo) == Counter({pid: 1 for pid in per_period(demo)})
    assert report.actions.created == len(per_period(demo)) == DEMO_PERIODS
    assert report.actions.failed == 0


async def test_d_once_2_a_commit_later_than_the_look_up_is_removed_before_the_run_reports(
    demo: Sandbox,
) -> None:
    """awork stores a POST after the client gave up *and* after its patient look-up (here:
    when the client sends it again), so both land. The final look-up finds the two
    copies, keeps the older one (D-Settle's order) and deletes the other: `created` is
    what awork holds."""
    demo.awork.inject({**POST, "kind": "commit_on_resend"})
    async with fast_clients(demo, http_timeout=TIMEOUT) as clients:
        report = await sync(demo, clients=clients)
    assert demo.awork.journal.count("POST") == DEMO_PERIODS + 1  # the one sent again
    assert demo.awork.journal.count("DELETE") == 1  # the younger copy, at the end
    assert per_period(demo) == Counter({pid: 1 for pid in per_period(demo)})
    assert report.actions.created == len(per_period(demo)) == DEMO_PERIODS


async def test_d_once_2_a_run_whose_answers_arrive_looks_nothing_up(demo: Sandbox) -> None:
    """The normal path stays cheap: no look-up, no final check."""
    report = await sync(demo)
    assert report.actions.created == DEMO_PERIODS
    assert look_ups(demo) == 0

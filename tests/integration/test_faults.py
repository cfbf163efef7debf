"""Faults on the wire during a whole run: 429s in both vendors' styles, 5xx, timeouts,
malformed JSON and dropped connections, on reads and on writes (R14, R15, R23).

A run either completes correctly (the fault was transient and retried inside the
run) or fails with the specific SyncError; either way the next run converges:
awork holds exactly what the rules say, with no duplicates, and one more run
writes nothing. Credential problems fail before anything is written.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from clients_helpers import Sleeps
from runner_demo import BOB, SICK
from runner_helpers import (
    DEMO,
    OWNER,
    PERSONIO_FAST,
    TODAY,
    awork_writes,
    clear_journals,
    day_period,
    expected_rows,
    fast_clients,
    http_timeout_for,
    others,
    owned_rows,
    sync,
)

from personio_sync.engine.report import SyncReport
from personio_sync.errors import (
    AworkAuthError,
    AworkRateLimited,
    AworkServerError,
    AworkTransportError,
    PersonioAuthError,
    PersonioEmailNotReadable,
    PersonioRateLimited,
    PersonioScopeError,
    PersonioServerError,
    PersonioTransportError,
    SyncError,
)
from personio_sync.sync.runner import Credentials, delete_owned
from personio_sync_testing.devtools.polling import eventually_async
from personio_sync_testing.fakes import AworkKnobs, PersonioKnobs, Sandbox, demo_seed_path

KINDS = ["status", "rate_limit", "timeout", "malformed", "drop"]
# Every kind of fault on the main list of each vendor, and each other read once.
READS = [
    *(pytest.param("personio", "/v2/absence-periods", None, k, id=f"periods-{k}") for k in KINDS),
    *(pytest.param("awork", "/absences", "GET", k, id=f"absences-{k}") for k in KINDS),
    pytest.param("personio", "/v2/auth/token", None, "drop", id="token-drop"),
    pytest.param("personio", "/v2/persons", None, "malformed", id="persons-malformed"),
    pytest.param("personio", "/v2/absence-types", None, "timeout", id="types-timeout"),
    pytest.param("awork", "/users", "GET", "rate_limit", id="users-rate_limit"),
    pytest.param("awork", "/apiusers", "GET", "status", id="apiusers-status"),
]
WRITES = [
    *(pytest.param("POST", k, id=f"POST-{k}") for k in KINDS),
    pytest.param("PUT", "rate_limit", id="PUT-rate_limit"),
    pytest.param("PUT", "malformed", id="PUT-malformed"),
    pytest.param("DELETE", "timeout", id="DELETE-timeout"),
    pytest.param("DELETE", "drop", id="DELETE-drop"),
]
PERSONIO_ERRORS: dict[str, type[SyncError]] = {
    "status": PersonioServerError,
    "rate_limit": PersonioRateLimited,
    "timeout": PersonioTransportError,
    "malformed": PersonioTransportError,
    "drop": PersonioTransportError,
}
AWORK_ERRORS: dict[str, type[SyncError]] = {
    "status": AworkServerError,
    "rate_limit": AworkRateLimited,
    "timeout": AworkTransportError,
    "malformed": AworkTransportError,
    "drop": AworkTransportError,
}


def inject(
    sandbox: Sandbox, vendor: str, path: str, method: str | None, kind: str, **more: Any
) -> None:
    fake = sandbox.personio if vendor == "personio" else sandbox.awork
    fake.inject({"kind": kind, "path_prefix": path, "method": method, **more})


def faulted(sandbox: Sandbox) -> list[str]:
    """Faults journaled so far. A fake journals a held (`timeout`) request only once it
    notices that the client gave up, which may be after the client has moved on: poll."""
    entries = sandbox.personio.journal.entries() + sandbox.awork.journal.entries()
    return [e.fault for e in entries if e.fault]


async def run(sandbox: Sandbox, credentials: Credentials = DEMO) -> SyncReport:
    timeout = http_timeout_for(sandbox)
    async with fast_clients(sandbox, credentials, http_timeout=timeout) as clients:
        return await sync(sandbox, credentials=credentials, clients=clients)


def change_personio(sandbox: Sandbox) -> int:
    """One create, one update and one delete for the next run; returns the write count."""
    state = sandbox.personio_state
    state.move_period(
        "3f1e0000-0000-4000-8000-000000000001",
        {"date_time": "2026-07-29T00:00:00", "type": None},
        {"date_time": "2026-08-03T00:00:00", "type": None},
    )
    state.cancel("3f1e0000-0000-4000-8000-000000000004")
    state.put_period(day_period("new-1", "1002", SICK, TODAY.replace(day=27), 2))
    return 3


async def assert_converges(sandbox: Sandbox, writes: int | None = None) -> None:
    """A clean run reaches the rules' state (no duplicates), and the next writes nothing."""
    sandbox.personio.faults.clear()
    sandbox.awork.faults.clear()
    started = time.time()
    report = await run(sandbox)
    assert report.actions.failed == 0, report.failures
    if writes is not None:
        assert len(awork_writes(sandbox, since=started)) == writes
    assert owned_rows(sandbox) == expected_rows(sandbox)
    started = time.time()
    again = await run(sandbox)
    assert awork_writes(sandbox, since=started) == [] and again.actions.unchanged == len(
        expected_rows(sandbox)
    )


# --- reads --------------------------------------------------------------------------------


@pytest.mark.parametrize(("vendor", "path", "method", "kind"), READS)
async def test_r15_transient_read_fault_is_retried_inside_the_run(
    demo: Sandbox, vendor: str, path: str, method: str | None, kind: str
) -> None:
    times = 1 if kind == "timeout" else 2  # max_retries=2: the third attempt gets through
    inject(demo, vendor, path, method, kind, times=times)

    report = await run(demo)

    await eventually_async(lambda: faulted(demo) == [kind] * times, within=5, interval=0.01)
    assert report.actions.created == 7 and report.actions.failed == 0
    assert owned_rows(demo) == expected_rows(demo)
    await assert_converges(demo, writes=0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("vendor", "path", "method"),
    [
        pytest.param("personio", "/v2/absence-periods", None, id="personio"),
        pytest.param("awork", "/absences", "GET", id="awork"),
    ],
)
async def test_r23_lasting_read_fault_fails_the_run_before_any_write(
    demo: Sandbox, vendor: str, path: str, method: str | None, kind: str
) -> None:
    await run(demo)
    writes = change_personio(demo)
    before = demo.awork_state.dump()["absences"]
    clear_journals(demo)
    inject(demo, vendor, path, method, kind)

    expected = (PERSONIO_ERRORS if vendor == "personio" else AWORK_ERRORS)[kind]
    with pytest.raises(expected) as caught:
        await run(demo)

    assert type(caught.value) is expected
    if kind == "status":
        assert caught.value.status_code == 503  # type: ignore[attr-defined]
    assert awork_writes(demo) == []
    assert demo.awork_state.dump()["absences"] == before
    await assert_converges(demo, writes=writes)


# --- writes -------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "kind"), WRITES)
async def test_r15_transient_write_fault_is_retried_inside_the_run(
    demo: Sandbox, method: str, kind: str
) -> None:
    await run(demo)
    writes = change_personio(demo)
    clear_journals(demo)
    inject(demo, "awork", "/absences", method, kind, times=1 if kind == "timeout" else 2)

    report = await run(demo)

    acts = report.actions
    assert (acts.created, acts.updated, acts.deleted, acts.failed) == (1, 1, 1, 0)
    await eventually_async(
        lambda: faulted(demo) == [kind] * (1 if kind == "timeout" else 2), within=5, interval=0.01
    )
    assert owned_rows(demo) == expected_rows(demo)
    await assert_converges(demo, writes=0)
    assert writes == 3


@pytest.mark.parametrize("kind", KINDS)
async def test_r14_lasting_write_fault_stops_the_run_and_the_next_run_finishes(
    demo: Sandbox, kind: str
) -> None:
    """awork failing every write after two is an outage, not seven item failures."""
    inject(demo, "awork", "/absences", "POST", kind, after=2)

    with pytest.raises(AWORK_ERRORS[kind]):
        await run(demo)

    assert len(owned_rows(demo)) == 2
    await assert_converges(demo, writes=5)


async def test_d_once_lost_response_to_a_create_leaves_no_duplicate(demo: Sandbox) -> None:
    """awork created the absence but the answer never arrived: the client finds it by its
    marker instead of sending the POST again, so counts equal what awork holds."""
    lost: list[str] = []

    async def lose_first_answer(response: httpx.Response) -> None:
        if response.request.method == "POST" and not lost:
            lost.append(str(response.request.url))
            raise httpx.ReadError("connection reset after the request was processed")

    async with fast_clients(demo, awork_hooks={"response": [lose_first_answer]}) as clients:
        report = await sync(demo, clients=clients)

    assert lost and report.actions.failed == 0
    assert report.actions.created == len(owned_rows(demo)) == 7
    assert clients.awork.stats.settled == 1
    await assert_converges(demo, writes=0)


async def test_d_once_stalled_create_answers_leave_no_duplicate_in_the_same_run(
    demo: Sandbox,
) -> None:
    """awork stores two absences but stalls both answers past the client's timeout."""
    inject(demo, "awork", "/absences", "POST", "lost_answer", times=2)

    report = await run(demo)

    lost_twice = lambda: faulted(demo) == ["lost_answer"] * 2  # noqa: E731 (journaled on give-up)
    await eventually_async(lost_twice, within=5, interval=0.01)
    assert report.actions.created == len(owned_rows(demo)) == 7
    await assert_converges(demo, writes=0)


# --- 429 in each vendor's style -----------------------------------------------------------


async def test_r15_personio_429_waits_at_least_one_second(demo: Sandbox) -> None:
    """Personio sends no Retry-After and asks for >= 1 s (the client's default floor)."""
    demo.personio.inject({"kind": "rate_limit", "path_prefix": "/v2/persons", "times": 1})

    sleeps = Sleeps()  # the waits the client meant, recorded instead of slept
    async with fast_clients(demo, personio={"rate_limit_wait": 1.0, "sleep": sleeps}) as clients:
        report = await sync(demo, clients=clients)

    persons = [e for e in demo.personio.journal.entries() if e.path == "/v2/persons"]
    assert [e.status for e in persons] == [429, 200]
    [waited] = sleeps.delays
    assert 1.0 <= waited <= 1.0 + PERSONIO_FAST["backoff_max"]
    assert clients.personio.stats.rate_limited == 1
    assert report.actions.created == 7


async def test_r15_awork_429_honours_ratelimit_reset(demo: Sandbox) -> None:
    """The fake's 429 says `ratelimit-reset: 1`; the next request waits for it."""
    demo.awork.inject(
        {"kind": "rate_limit", "path_prefix": "/absences", "method": "POST", "times": 1}
    )

    sleeps = Sleeps()  # recorded, not slept; without the pacer, which would hold it too
    awork = {"max_rate_limit_wait": 60.0, "sleep": sleeps, "pace": False}
    async with fast_clients(demo, awork=awork) as clients:
        report = await sync(demo, clients=clients, concurrency=4)

    entries = demo.awork.journal.entries()
    limited = next(e for e in entries if e.status == 429)
    assert any(e.body == limited.body and e.status == 200 for e in entries)  # retried
    assert sleeps.delays == [1.0]
    assert clients.awork.stats.rate_limited == 1
    assert report.actions.created == 7 and report.actions.failed == 0


# --- per-item failures (R15) --------------------------------------------------------------


async def test_r15_user_deleted_between_read_and_write_fails_only_their_absences(
    demo: Sandbox,
) -> None:
    bob = demo.awork_state.users[BOB]

    async def delete_bob(request: httpx.Request) -> None:
        if request.method == "POST":
            demo.awork_state.users.pop(BOB, None)

    async with fast_clients(demo, awork_hooks={"request": [delete_bob]}) as clients:
        report = await sync(demo, clients=clients)

    assert (report.actions.created, report.actions.failed) == (4, 3)
    assert {(f.email, f.personio_id[-1]) for f in report.failures} == {
        ("bob@acme.example", "4"),
        ("bob@acme.example", "5"),
        ("bob@acme.example", "6"),
    }
    assert all("not-found" in f.reason and "404" in f.reason for f in report.failures)
    assert {r.user_id for r in owned_rows(demo)} == {
        "5c3d0000-0000-4000-8000-000000000001",
        "5c3d0000-0000-4000-8000-000000000003",
    }
    demo.awork_state.add_user(bob)  # Bob comes back: his absences are retried
    await assert_converges(demo, writes=3)


async def test_r15_validation_error_on_one_absence_does_not_stop_the_others(
    demo: Sandbox,
) -> None:
    demo.personio_state.put_absence_type({"id": SICK, "name": "S" * 1001})  # > 1000 for awork

    report = await run(demo)

    assert (report.actions.created, report.actions.failed) == (6, 1)
    (failure,) = report.failures
    assert failure.personio_id.endswith("0004") and failure.email == "bob@acme.example"
    assert "validation-failed" in failure.reason and "SSSSSSSSSS" not in failure.reason
    clear_journals(demo)
    again = await run(demo)  # retried every run, still failing, others untouched
    assert (again.actions.failed, len(awork_writes(demo))) == (1, 1)
    demo.personio_state.put_absence_type({"id": SICK, "name": "Sick leave"})
    await assert_converges(demo, writes=1)


async def test_r15_absence_deleted_by_hand_before_its_update_is_recreated_next_run(
    demo: Sandbox,
) -> None:
    await run(demo)
    change_personio(demo)

    async def delete_target(request: httpx.Request) -> None:
        if request.method == "PUT":
            demo.awork_state.delete_absence(request.url.path.rsplit("/", 1)[-1])

    async with fast_clients(demo, awork_hooks={"request": [delete_target]}) as clients:
        report = await sync(demo, clients=clients)

    assert (report.actions.created, report.actions.deleted, report.actions.failed) == (1, 1, 1)
    assert "404" in report.failures[0].reason
    await assert_converges(demo, writes=1)


# --- bad credentials: a specific error and nothing written (R23) ---------------------------


def wrong_personio_secret(sandbox: Sandbox) -> Credentials:
    return Credentials("demo-client", "not-the-secret", "demo-awork-key")


def wrong_awork_key(sandbox: Sandbox) -> Credentials:
    return Credentials("demo-client", "demo-secret", "not-the-key")


def missing_scope(sandbox: Sandbox) -> Credentials:
    cred = {"client_id": "demo-client", "client_secret": "demo-secret"}
    sandbox.personio_state.put_credential({**cred, "scopes": ["personio:persons:read"]})
    return DEMO


def email_not_readable(sandbox: Sandbox) -> Credentials:
    cred = {"client_id": "demo-client", "client_secret": "demo-secret"}
    sandbox.personio_state.put_credential({**cred, "email_readable": False})
    return DEMO


@pytest.mark.parametrize(
    ("breakage", "error", "hint"),
    [
        (wrong_personio_secret, PersonioAuthError, "personioClientSecret"),
        (wrong_awork_key, AworkAuthError, "aworkApiKey"),
        (missing_scope, PersonioScopeError, "personio:absences:read"),
        (email_not_readable, PersonioEmailNotReadable, "readable"),
    ],
)
async def test_r23_credential_problem_is_specific_and_writes_nothing(
    demo: Sandbox, breakage: Any, error: type[SyncError], hint: str
) -> None:
    await run(demo)
    change_personio(demo)
    before = demo.awork_state.dump()["absences"]
    credentials = breakage(demo)
    clear_journals(demo)

    with pytest.raises(error) as caught:
        await run(demo, credentials)

    assert type(caught.value) is error and hint in caught.value.message
    assert awork_writes(demo) == []
    assert demo.awork_state.dump()["absences"] == before


async def test_r23_awork_key_revoked_during_the_writes_stops_the_run(demo: Sandbox) -> None:
    async def revoke(request: httpx.Request) -> None:
        if request.method == "POST" and "demo-awork-key" in demo.awork_state.api_keys:
            demo.awork_state.revoke_api_key("demo-awork-key")

    hand_made = others(demo)
    async with fast_clients(demo, awork_hooks={"request": [revoke]}) as clients:
        with pytest.raises(AworkAuthError):
            await sync(demo, clients=clients)

    assert owned_rows(demo) == [] and others(demo) == hand_made
    demo.awork_state.add_api_key("demo-awork-key", "5c3d0000-0000-4000-8000-0000000000a1")
    await assert_converges(demo, writes=7)


# --- deleting a resource with deletionPolicy Delete (R19) ---------------------------------


@pytest.mark.parametrize("kind", ["status", "drop"])
async def test_r19_delete_owned_fails_cleanly_and_the_retry_finishes(
    demo: Sandbox, kind: str
) -> None:
    await run(demo)
    hand_made = others(demo)
    demo.awork.inject({"kind": kind, "path_prefix": "/absences", "method": "DELETE", "after": 2})

    async with fast_clients(demo) as clients:
        with pytest.raises(AWORK_ERRORS[kind]):
            await delete_owned(DEMO, owner_key=OWNER, clients=clients)
        assert len(owned_rows(demo)) == 5
        demo.awork.faults.clear()
        assert await delete_owned(DEMO, owner_key=OWNER, clients=clients) == 5

    assert owned_rows(demo) == [] and others(demo) == hand_made


async def test_d_once_3_a_clean_up_stopped_by_a_lasting_fault_leaves_no_delete_in_flight(
    demo: Sandbox,
) -> None:
    """The first delete that stops a clean-up does not cancel the others already sent:
    awork carries out a cancelled DELETE all the same, later, so the finalizer's next
    attempt would list an absence that is about to go. When it raises, every delete it
    sent has been answered, and the count of what is left is exact."""
    await run(demo)
    demo.awork.knobs.route_latency_ms = {"DELETE /api/v1/absences": 2000}
    inject(demo, "awork", "/absences", "DELETE", "status", after=1)  # faults answer at once

    async with fast_clients(demo) as clients:
        with pytest.raises(AworkServerError):
            await delete_owned(DEMO, owner_key=OWNER, clients=clients)
        assert demo.awork.in_flight == 0
        assert len(owned_rows(demo)) == 6  # the slow one went before the call raised
        demo.awork.faults.clear()
        assert await delete_owned(DEMO, owner_key=OWNER, clients=clients) == 6

    assert owned_rows(demo) == []


async def test_r15_real_rate_limits_are_paced_not_failed() -> None:
    """Both fakes enforce their limits; awork allows 4 requests a second here."""
    awork = AworkKnobs(rate_limits=True, per_second=4, per_minute=1000)
    personio = PersonioKnobs(rate_limits=True)
    with Sandbox(demo_seed_path(), today=TODAY, awork_knobs=awork, personio_knobs=personio) as sb:
        async with fast_clients(sb, awork={"max_rate_limit_wait": 5.0}) as clients:
            report = await sync(sb, clients=clients, concurrency=8)

        assert (report.actions.created, report.actions.failed) == (7, 0)
        assert owned_rows(sb) == expected_rows(sb)
        assert clients.awork.stats.pacing_wait_seconds > 0  # it waited instead of failing
        statuses = [e.status for e in sb.awork.journal.entries()]
        assert statuses.count(200) == 10 and set(statuses) <= {200, 429}
        # Before the first answer nobody knows the budget; after it, no 429 storm.
        assert statuses.count(429) == clients.awork.stats.rate_limited <= 8


async def test_d_once_3_a_run_stopped_by_a_lasting_fault_leaves_no_write_in_flight(
    demo: Sandbox,
) -> None:
    """The first write that stops the run does not cancel the others already sent: awork
    stores a cancelled POST all the same, after the run, where no look-up sees it (a
    next run at once could then create it twice). So when the run raises, every write it
    sent has been answered."""
    demo.awork.knobs.route_latency_ms = {"POST /api/v1/absences": 2000}
    inject(demo, "awork", "/absences", "POST", "status", after=1)  # faults answer at once

    with pytest.raises(AworkServerError):
        await run(demo)

    assert demo.awork.in_flight == 0
    assert len(owned_rows(demo)) == 1  # the slow one, stored before the run ended
    await assert_converges(demo, writes=6)

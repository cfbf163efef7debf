"""Shared pieces of the end-to-end tests: engine + both clients + both fakes over real HTTP.

`fast_clients` builds the real clients with tiny back-off so a fault costs milliseconds,
`sync` runs `run_sync` with them, and `expected_rows` is an oracle written from the
sync rules (R1-R11) that reads the fakes' state directly, so a test can say "awork
holds exactly these absences" without asking the code under test what it meant to do.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
from clients_helpers import AWORK_SETTLE

from personio_sync.clients import AworkClient, PersonioClient
from personio_sync.engine.marker import make_marker, owner_key, parse_marker
from personio_sync.engine.model import AbsenceBody
from personio_sync.engine.report import SyncReport
from personio_sync.resource.spec import PersonioSyncSpec, parse_spec
from personio_sync.resource.spec_policy import policy_of
from personio_sync.sync.runner import Clients, Credentials, Tuning, run_sync
from personio_sync_testing.fakes import Sandbox
from personio_sync_testing.fakes.knobs import AworkKnobs, JournalEntry
from personio_sync_testing.fakes.seed import SeedSource

REPO = Path(__file__).resolve().parents[2]
RESOURCE = REPO / "examples" / "personiosync.yaml"
SECRET = REPO / "examples" / "secret.yaml"
CLI = str(Path(sys.executable).with_name("personio-sync"))  # the installed console script
TODAY = date(2026, 7, 21)  # window 2026-07-07 .. 2027-01-17 with the defaults
OWNER = owner_key("hr", "acme")
OTHER_OWNER = owner_key("hr", "acme-sick-leave")
DEMO = Credentials("demo-client", "demo-secret", "demo-awork-key")
WRITE_METHODS = ("POST", "PUT", "DELETE")
PERSONIO_FAST: dict[str, Any] = {
    "max_retries": 2,
    "backoff_base": 0.005,
    "backoff_max": 0.02,
    "rate_limit_wait": 0.01,
}
AWORK_FAST: dict[str, Any] = {**PERSONIO_FAST, "max_rate_limit_wait": 0.05, **AWORK_SETTLE}


def sandbox_for(seed: SeedSource, *, today: date = TODAY) -> Sandbox:
    """A Sandbox (not started) whose awork advertises a budget no test run exhausts.

    awork's real 50 requests/s would make the client pace a 300-write run to 6 s;
    pacing itself is pinned by the client tests and by test_faults.
    """
    knobs = AworkKnobs(per_second=5000, per_minute=300_000)
    return Sandbox(seed, today=today, awork_knobs=knobs)


def http_timeout_for(sandbox: Sandbox) -> float:
    """Short only while a `timeout` fault is armed (the fake holds such a request until the
    client gives up); elsewhere long, so a loaded machine cannot fake a timeout."""
    armed = sandbox.personio.faults.rules() + sandbox.awork.faults.rules()
    return 0.4 if any(rule["kind"] in ("timeout", "lost_answer") for rule in armed) else 5.0


def make_spec(**fields: Any) -> PersonioSyncSpec:
    """A spec as the CLI or operator would parse it; keyword arguments are spec fields."""
    return parse_spec({"secretRef": {"name": "acme-credentials"}, **fields})


@asynccontextmanager
async def fast_clients(
    sandbox: Sandbox,
    credentials: Credentials = DEMO,
    *,
    http_timeout: float = 5.0,
    personio: Mapping[str, Any] | None = None,
    awork: Mapping[str, Any] | None = None,
    awork_hooks: Mapping[str, list[Any]] | None = None,
) -> AsyncIterator[Clients]:
    """The real clients on the sandbox with fast retries; `personio`/`awork` override kwargs."""
    async with (
        httpx.AsyncClient(timeout=http_timeout) as personio_http,
        httpx.AsyncClient(timeout=http_timeout, event_hooks=dict(awork_hooks or {})) as awork_http,
    ):
        yield Clients(
            personio=PersonioClient(
                personio_http,
                sandbox.personio_url,
                credentials.personio_client_id,
                credentials.personio_client_secret,
                **{**PERSONIO_FAST, **(personio or {})},
            ),
            awork=AworkClient(
                awork_http,
                sandbox.awork_url,
                credentials.awork_api_key,
                **{**AWORK_FAST, **(awork or {})},
            ),
        )


async def sync(
    sandbox: Sandbox,
    spec: PersonioSyncSpec | None = None,
    *,
    credentials: Credentials = DEMO,
    owner: str = OWNER,
    today: date = TODAY,
    clients: Clients | None = None,
    concurrency: int = 8,
    allow_mass_delete: bool = False,
    adopt_from: Collection[str] = (),
) -> SyncReport:
    """One run_sync against the sandbox (fast clients unless `clients` is given)."""
    tuning = Tuning(write_concurrency=concurrency)
    async with _maybe_open(sandbox, credentials, clients) as using:
        return await run_sync(
            policy_of(spec or make_spec()),
            credentials,
            owner_key=owner,
            today=today,
            tuning=tuning,
            clients=using,
            allow_mass_delete=allow_mass_delete,
            adopt_from=adopt_from,
        )


@asynccontextmanager
async def _maybe_open(
    sandbox: Sandbox, credentials: Credentials, clients: Clients | None
) -> AsyncIterator[Clients]:
    if clients is not None:
        yield clients
        return
    async with fast_clients(sandbox, credentials) as opened:
        yield opened


def environment(sandbox: Sandbox | None, **extra: str) -> dict[str, str]:
    """For a CLI subprocess: the caller's environment without any of our variables, plus
    the sandbox's URLs (R22: base URLs are configuration) and `extra`."""
    ours = ("PERSONIO_", "AWORK_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    if sandbox is not None:
        env |= {"PERSONIO_API_URL": sandbox.personio_url, "AWORK_API_URL": sandbox.awork_url}
    return env | extra


# --- journal ------------------------------------------------------------------------------


def absence_body(sandbox: Sandbox, period_id: str) -> AbsenceBody:
    """A one-day absence of the sandbox's first awork user, owned by OWNER."""
    user = next(iter(sandbox.awork_state.users))
    day = datetime(2026, 8, 3, tzinfo=UTC)
    end = day.replace(hour=23, minute=59, second=59)
    return AbsenceBody(user, day, end, False, False, "Vacation", make_marker(OWNER, period_id))


def awork_writes(sandbox: Sandbox, *, since: float = 0.0) -> list[JournalEntry]:
    """Every write request awork received (faulted ones included), arrived at `since` or later.

    A request the fake held (`timeout` fault) is journaled when the fake notices the client
    gave up, maybe after a journal was cleared: `since` (a `time.time()`) keeps it out.
    """
    return [
        e for e in sandbox.awork.journal.entries() if e.method in WRITE_METHODS and e.at >= since
    ]


def clear_journals(sandbox: Sandbox) -> None:
    sandbox.personio.journal.clear()
    sandbox.awork.journal.clear()


def requests_of(entries: list[JournalEntry]) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """(method, path, sorted query) per request, sorted: compare whole request sets at once."""
    return sorted((e.method, e.path, tuple(sorted(e.query.items()))) for e in entries)


# --- awork state as comparable rows -------------------------------------------------------


@dataclass(frozen=True, order=True)
class Row:
    """One awork absence in the fields the sync writes (R9-R11)."""

    user_id: str
    start_on: str
    end_on: str
    half_start: bool
    half_end: bool
    description: str | None
    marker: str | None


def _stamp(value: str | datetime) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def row_of(absence: Mapping[str, Any]) -> Row:
    return Row(
        user_id=absence["userId"],
        start_on=_stamp(absence["startOn"]),
        end_on=_stamp(absence["endOn"]),
        half_start=absence["isHalfDayOnStart"],
        half_end=absence["isHalfDayOnEnd"],
        description=absence.get("description"),
        marker=absence.get("externalProvider"),
    )


def marker_prefix(owner: str) -> str:
    return f"personio-sync:{owner}:"


def owned_rows(sandbox: Sandbox, owner: str = OWNER) -> list[Row]:
    """The owner's absences in awork, sorted; duplicates stay visible."""
    absences = sandbox.awork_state.dump()["absences"]
    prefix = marker_prefix(owner)
    return sorted(
        row_of(a) for a in absences if (a.get("externalProvider") or "").startswith(prefix)
    )


def others(sandbox: Sandbox, owner: str = OWNER) -> dict[str, dict[str, Any]]:
    """Absences not carrying `owner`'s marker, whole (timestamps included), by id."""
    prefix = marker_prefix(owner)
    return {
        a["id"]: a
        for a in sandbox.awork_state.dump()["absences"]
        if not (a.get("externalProvider") or "").startswith(prefix)
    }


# --- the oracle ---------------------------------------------------------------------------


def _norm(email: str) -> str:
    return email.strip().casefold()


def matched_users(personio: Mapping[str, Any], awork: Mapping[str, Any]) -> dict[str, str]:
    """person id → awork user id, by unique e-mail on both sides (R6, R7; no overrides)."""
    api_users = {u["id"] for u in awork["api_users"]}
    users: dict[str, set[str]] = defaultdict(set)
    for user in awork["users"]:
        if not (user["isArchived"] or user["isAgent"] or user["id"] in api_users):
            for email in user["emails"]:
                users[_norm(email)].add(user["id"])
    persons: dict[str, set[str]] = defaultdict(set)
    for person in personio["persons"]:
        if person.get("email") and person["email"].strip():
            persons[_norm(person["email"])].add(person["id"])
    claims: dict[str, list[str]] = defaultdict(list)
    for email, ids in persons.items():
        if len(ids) == 1 and len(users.get(email, ())) == 1:
            claims[next(iter(users[email]))].append(next(iter(ids)))
    return {ids[0]: user for user, ids in claims.items() if len(ids) == 1}


def _day_range(period: Mapping[str, Any], window_end: date) -> tuple[date, date, bool]:
    """Inclusive first/last date (exclusive midnight end, R3) and whether it is hour-based."""
    start = datetime.fromisoformat(period["starts_from"]["date_time"])
    if period["ends_at"] is None:
        return start.date(), max(start.date(), window_end), start.time() != time(0)
    end = datetime.fromisoformat(period["ends_at"]["date_time"])
    hourly = start.time() != time(0) or end.time() != time(0)
    last = (end - timedelta(days=1)).date() if end.time() == time(0) and end > start else end.date()
    return start.date(), max(start.date(), last), hourly


def _times(first: date, last: date, mid_start: bool, mid_end: bool) -> tuple[str, str, bool, bool]:
    """The R10 table: awork times and flags for calendar dates plus half-day ends."""
    start_t, end_t, flag_start, flag_end = "00:00:00", "23:59:59", False, False
    if first == last and mid_end and not mid_start:
        end_t, flag_start = "12:00:00", True  # morning off
    elif first == last and mid_start and not mid_end:
        start_t, flag_end = "12:00:00", True  # afternoon off
    elif first != last:
        if mid_start:
            start_t, flag_start = "12:00:00", True
        if mid_end:
            end_t, flag_end = "12:00:00", True
    return f"{first}T{start_t}Z", f"{last}T{end_t}Z", flag_start, flag_end


def _type_selected(kind: Mapping[str, Any] | None, type_id: str, spec: PersonioSyncSpec) -> bool:
    keys = {type_id.casefold()} | ({kind["name"].casefold()} if kind else set())
    if keys & {k.casefold() for k in spec.absenceTypes.exclude}:
        return False
    include = {k.casefold() for k in spec.absenceTypes.include}
    return not include or bool(keys & include)


def expected_rows(
    sandbox: Sandbox,
    spec: PersonioSyncSpec | None = None,
    *,
    today: date = TODAY,
    owner: str = OWNER,
) -> list[Row]:
    """What awork should hold for `owner` when every period's person is matched or absent.

    A period another owner holds is left alone (D-Owner): what `owner` holds for it stays."""
    spec = spec or make_spec()
    personio, awork = sandbox.personio_state.dump(), sandbox.awork_state.dump()
    markers = [parse_marker(a.get("externalProvider")) for a in awork["absences"]]
    conflicts = {m[1] for m in markers if m is not None and m[0] != owner}
    user_of = matched_users(personio, awork)
    types = {t["id"]: t for t in personio["absence_types"]}
    start = today - timedelta(days=spec.window.pastDays)
    end = today + timedelta(days=spec.window.futureDays)
    statuses = {"APPROVED", "PENDING"} if spec.includePending else {"APPROVED"}
    rows = [
        r
        for r in owned_rows(sandbox, owner)
        if (parse_marker(r.marker) or ("", ""))[1] in conflicts
    ]
    for period in personio["absence_periods"]:
        kind = types.get(period["absence_type_id"])
        user = user_of.get(period["person_id"])
        if period["status"] not in statuses or user is None or period["id"] in conflicts:
            continue
        if not _type_selected(kind, period["absence_type_id"], spec):
            continue
        first, last, hourly = _day_range(period, end)
        hourly = hourly or (kind is not None and kind["unit"] == "HOUR")
        if first > end or last < start or (hourly and spec.hourlyAbsences == "Skip"):
            continue
        mid_start = not hourly and period["starts_from"]["type"] == "SECOND_HALF"
        mid_end = not hourly and (period["ends_at"] or {}).get("type") == "FIRST_HALF"
        start_on, end_on, flag_start, flag_end = _times(first, last, mid_start, mid_end)
        generic = spec.description.mode == "Generic"
        text = spec.description.text if generic else (kind["name"] if kind else "Absent")
        marker = marker_prefix(owner) + period["id"]
        rows.append(Row(user, start_on, end_on, flag_start, flag_end, text, marker))
    return sorted(rows)


# --- building Personio data ---------------------------------------------------------------


def day_period(
    period_id: str,
    person_id: str,
    type_id: str,
    first: date,
    days: int = 1,
    *,
    start_half: str | None = None,
    end_half: str | None = None,
    status: str = "APPROVED",
) -> dict[str, Any]:
    """A day-based Personio v2 period; `ends_at` is the exclusive next midnight (R3)."""
    last = first + timedelta(days=days)
    return {
        "id": period_id,
        "person_id": person_id,
        "absence_type_id": type_id,
        "starts_from": {"date_time": f"{first}T00:00:00", "type": start_half},
        "ends_at": {"date_time": f"{last}T00:00:00", "type": end_half},
        "status": status,
    }

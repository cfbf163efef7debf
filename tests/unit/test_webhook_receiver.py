"""The webhook receiver (HOOK-1..HOOK-5) over real HTTP, with the API server's Secret GETs
answered by an httpx mock transport that counts them."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import httpx2
import pytest
from controller_fakes import mock_kube

from personio_sync.clients.kube import KubeClient
from personio_sync.controller.reporting.metrics import Metrics
from personio_sync.controller.runs.changed import Changes
from personio_sync.controller.view import ResourceView
from personio_sync.controller.webhooks.catalogue import SUBSCRIBED, PersonioEvent
from personio_sync.controller.webhooks.limits import Buckets, Limits, retry_after
from personio_sync.controller.webhooks.receiver import LOOKUP_SECONDS, MAX_BODY, WebhookReceiver
from personio_sync.controller.webhooks.tokens import MIN_LENGTH, WebhookTokens
from personio_sync.resource.status import LastEvent

TOKEN = "hook-token-6f1d2a-0123456789abcdef"
NOW = datetime(2026, 6, 1, 8, 15, tzinfo=UTC)


@dataclass
class World:
    """What the receiver sees: resources, their Secrets, and what it did."""

    resources: dict[tuple[str, str], str] = field(default_factory=dict)  # → its Secret
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    secret_gets: int = 0
    noted: list[tuple[str, str, Changes]] = field(default_factory=list)
    recorded: list[LastEvent] = field(default_factory=list)
    leading: bool = True
    api_server_hangs: bool = False
    api_server_delay: float = 0.0
    clock: float = 1000.0

    def kube(self) -> KubeClient:
        async def answer(request: httpx2.Request) -> httpx2.Response:
            parts = request.url.path.split("/")  # /api/v1/namespaces/{ns}/secrets/{name}
            self.secret_gets += 1
            if self.api_server_hangs:
                await asyncio.Event().wait()
            await asyncio.sleep(self.api_server_delay)
            found = self.secrets.get((parts[4], parts[6]))
            return httpx2.Response(200, json=found) if found else httpx2.Response(404, json={})

        return mock_kube(answer, token=None)

    def add(self, ns: str, name: str, token: str | None, *, b64: bool = True) -> None:
        self.resources[(ns, name)] = f"{name}-creds"
        data = {} if token is None else {"personioWebhookToken": token}
        if b64:
            data = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        key = "data" if b64 else "stringData"
        self.secrets[(ns, f"{name}-creds")] = {"metadata": {"resourceVersion": "7"}, key: data}

    def notify(self, ns: str, name: str, changes: Changes) -> bool:
        if (ns, name) not in self.resources:
            return False
        self.noted.append((ns, name, changes))
        return True


@contextlib.asynccontextmanager
async def serving(w: World, **options: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Metrics]]:
    """The receiver on a free port for `w`, and an HTTP client to it."""
    kube = w.kube()
    metrics = Metrics()
    receiver = WebhookReceiver(
        secret_of=lambda ns, name: w.resources.get((ns, name)),
        notify=w.notify,
        tokens=WebhookTokens(
            kube, refresh_seconds=5.0, clock=options.get("clock", lambda: w.clock)
        ),
        metrics=metrics,
        leading=lambda _namespace, _name: w.leading,
        record=lambda ns, name, event: w.recorded.append(event),
        now=lambda: NOW,
        **{"clock": lambda: w.clock, **options},
    )
    port = await receiver.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client, metrics
    finally:
        await receiver.stop()
        await kube.close()


@pytest.fixture
async def world() -> AsyncIterator[tuple[World, httpx.AsyncClient, Metrics]]:
    w = World()
    w.add("hr", "acme", TOKEN)
    async with serving(w) as (client, metrics):
        yield w, client, metrics


def envelope(event: str = "absence-period.created", pid: Any = "p-1") -> dict[str, Any]:
    return {
        "company_id": "12345",
        "event_name": event,
        "occurred_at": "2026-06-01T08:14:58Z",
        "payload": {"id": pid},
        "meta": {},
    }


async def post(
    client: httpx.AsyncClient,
    body: Any,
    *,
    token: str | bytes | None = TOKEN,
    path: str = "/webhooks/personio/hr/acme",
) -> httpx.Response:
    headers = {} if token is None else {"Authorization": token}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(path, content=content, headers=headers)


def counted(metrics: Metrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "personio_sync_webhook_events_total", {"outcome": outcome}
    )
    return value or 0.0


async def test_hook_1_the_secret_token_is_accepted_with_or_without_bearer(world: Any) -> None:
    w, client, metrics = world
    assert (await post(client, envelope())).status_code == 202
    assert (await post(client, envelope(), token=f"Bearer {TOKEN}")).status_code == 202
    assert len(w.noted) == 2 and counted(metrics, "accepted") == 2


async def test_hook_1_wrong_or_missing_token_is_401_and_nothing_is_queued(world: Any) -> None:
    w, client, metrics = world
    assert (await post(client, envelope(), token="Bearer nope")).status_code == 401
    assert (await post(client, envelope(), token=None)).status_code == 401
    assert (await post(client, envelope(), token=TOKEN[:-1])).status_code == 401
    assert w.noted == [] and w.recorded == [] and counted(metrics, "unauthorized") == 3


async def test_hook_1_unknown_resource_and_resource_without_token_are_404(world: Any) -> None:
    w, client, _ = world
    w.add("hr", "plain", None)
    unknown = await post(client, envelope(), path="/webhooks/personio/hr/ghost")
    no_token = await post(client, envelope(), path="/webhooks/personio/hr/plain")
    assert unknown.status_code == no_token.status_code == 404
    assert unknown.json() == no_token.json()  # indistinguishable from outside
    bare = ResourceView.of({"spec": {"secretRef": None}})  # not valid, not fatal
    w.resources[("hr", "bare")] = bare.lenient.secret_name
    assert (await post(client, envelope(), path="/webhooks/personio/hr/bare")).status_code == 404
    assert w.noted == []


async def test_hook_1_string_data_token_works_too(world: Any) -> None:
    w, client, _ = world
    w.add("hr", "plain", "s3cret-hook-0123456789abcdef-01234", b64=False)
    path = "/webhooks/personio/hr/plain"
    assert (
        await post(client, envelope(), token="s3cret-hook-0123456789abcdef-01234", path=path)
    ).status_code == 202


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        {"event_name": "absence-period.created"},
        {"event_name": "absence-period.created", "payload": {}},
        {"event_name": "", "payload": {"id": "p"}},
        {"event_name": "absence-period.created", "payload": {"id": "x" * 201}},
        {"event_name": "absence-period.created", "payload": {"id": "p"}, "occurred_at": "soon"},
    ],
)
async def test_hook_2_malformed_envelope_is_400_and_queues_nothing(world: Any, body: Any) -> None:
    w, client, _ = world
    response = await post(client, body)
    assert response.status_code == 400
    assert w.noted == [] and w.recorded == []


async def test_hook_2_a_deeply_nested_body_is_400_not_a_crash(world: Any) -> None:
    w, client, metrics = world
    response = await post(client, b"[" * 60_000)
    assert response.status_code == 400 and counted(metrics, "malformed") == 1
    assert w.noted == []


async def test_hook_2_oversized_body_is_413(world: Any) -> None:
    w, client, metrics = world
    big = envelope()
    big["meta"] = {"pad": "x" * MAX_BODY}
    assert (await post(client, big)).status_code == 413
    assert w.noted == [] and counted(metrics, "too_large") == 1


async def test_hook_3_events_name_periods_or_persons_and_nothing_else(world: Any) -> None:
    w, client, _ = world
    for event in (
        "absence-period.created",
        "absence-period.updated.timerange",
        "absence-period.updated.status",
        "absence-period.deleted",
    ):
        assert (await post(client, envelope(event, "p-9"))).status_code == 202
    for event in ("person.updated", "employment.terminated"):
        assert (await post(client, envelope(event, 4567))).status_code == 202
    changes = [c for _, _, c in w.noted]
    assert all(c.period_ids == {"p-9"} and not c.person_ids for c in changes[:4])
    assert all(c.person_ids == {"4567"} and not c.period_ids for c in changes[4:])
    assert {c.source for c in changes} == {"webhook"} and not any(c.full for c in changes)
    assert changes[0].detected_at == datetime(2026, 6, 1, 8, 14, 58, tzinfo=UTC)


async def test_hook_3_the_receiver_acts_on_exactly_what_registration_subscribes_to(
    world: Any,
) -> None:
    """HOOK-7: one catalogue; every subscribed kind queues a sync, and a kind Personio
    offers that changes nothing the sync reads is acknowledged and ignored."""
    w, client, _ = world
    for event in SUBSCRIBED:
        assert (await post(client, envelope(event, "id-1"))).status_code == 202, event
    assert len(w.noted) == len(SUBSCRIBED) == len(PersonioEvent)
    for event in ("employment.updated.cost-centers", "attendance-period.created"):
        assert (await post(client, envelope(event, "id-1"))).status_code == 200, event
    assert len(w.noted) == len(SUBSCRIBED)


async def test_hook_3_unknown_events_are_acknowledged_and_ignored(world: Any) -> None:
    w, client, metrics = world
    response = await post(client, envelope("document.created", "d-1"))
    assert response.status_code == 200 and w.noted == []
    assert w.recorded == [LastEvent(time=NOW, kind="document.created", outcome="ignored")]
    assert counted(metrics, "ignored") == 1


async def test_hook_11_each_delivery_with_the_right_token_reads_the_secret_once(
    world: Any,
) -> None:
    """The cache only tells a delivery that may be right from a guess: the right token
    is confirmed by one GET each time (the rate limit bounds them, HOOK-10)."""
    w, client, _ = world
    for _ in range(5):
        assert (await post(client, envelope())).status_code == 202
    assert w.secret_gets == 5


async def test_hook_4_a_flood_of_wrong_tokens_reads_the_secret_once_per_refresh(
    world: Any,
) -> None:
    w, client, _ = world
    await post(client, envelope())
    for _ in range(10):
        assert (await post(client, envelope(), token="guess")).status_code == 401
    assert w.secret_gets == 1  # within refresh_seconds of the last read
    w.clock += 6
    await post(client, envelope(), token="guess")
    assert w.secret_gets == 2


async def test_hook_4_a_rotated_token_is_picked_up_by_its_first_delivery(world: Any) -> None:
    w, client, _ = world
    await post(client, envelope())
    w.add("hr", "acme", "rotated-token-2b-0123456789abcdef")
    w.clock += 6
    assert (
        await post(client, envelope(), token="rotated-token-2b-0123456789abcdef")
    ).status_code == 202
    assert (await post(client, envelope())).status_code == 401  # the old one no longer


async def test_hook_5_a_standby_asks_personio_to_retry(world: Any) -> None:
    w, client, metrics = world
    w.leading = False
    assert (await post(client, envelope())).status_code == 503
    assert w.noted == [] and counted(metrics, "not_leader") == 1
    assert (await post(client, envelope(), token="guess")).status_code == 401  # auth first


async def test_hook_3_redelivery_is_accepted_again_and_records_the_event(world: Any) -> None:
    w, client, _ = world
    for _ in range(3):
        assert (await post(client, envelope("absence-period.deleted", "p-2"))).status_code == 202
    assert len({c for _, _, c in w.noted}) == 1  # equal Changes: the worker coalesces them
    assert w.recorded[-1] == LastEvent(time=NOW, kind="absence-period.deleted", outcome="accepted")


async def test_hook_4_an_api_server_that_hangs_is_a_503_within_personios_3_s() -> None:
    assert LOOKUP_SECONDS < 3.0  # Personio's acknowledgement deadline
    w = World()
    w.add("hr", "acme", TOKEN)
    w.api_server_hangs = True
    async with serving(w, lookup_seconds=0.2) as (client, metrics):  # the path, without the wait
        response = await post(client, envelope())
    assert response.status_code == 503 and counted(metrics, "unavailable") == 1
    assert w.noted == []


async def test_hook_10_past_its_burst_a_resource_is_answered_429_with_retry_after() -> None:
    w = World()
    w.add("hr", "acme", TOKEN)
    async with serving(w, limits=Limits(burst=3, per_second=0.5)) as (client, metrics):
        for _ in range(3):
            assert (await post(client, envelope())).status_code == 202
        refused = await post(client, envelope())
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "2"
        assert len(w.noted) == 3 and counted(metrics, "rate_limited") == 1
        assert w.secret_gets == 3  # a delivery past the limit costs no Secret read
        w.clock += 2  # one delivery's worth refilled
        assert (await post(client, envelope())).status_code == 202
        assert (await post(client, envelope())).status_code == 429


async def test_hook_10_an_address_that_guesses_is_throttled_and_the_right_token_still_passes() -> (
    None
):
    w = World()
    w.add("hr", "acme", TOKEN)
    w.add("hr", "plain", None)
    async with serving(w, limits=Limits(failures=3, failure_window_seconds=6)) as (client, m):
        assert (await post(client, envelope())).status_code == 202
        for _ in range(3):
            assert (await post(client, envelope(), token="guess")).status_code == 401
        throttled = await post(client, envelope(), token="guess")
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
        assert counted(m, "throttled") == 1 and w.secret_gets == 1
        # Behind an Ingress every caller has its address: Personio's token is not held back.
        assert (await post(client, envelope())).status_code == 202
        # Throttled, an unknown resource and one without a token still look the same.
        ghost = await post(client, envelope(), path="/webhooks/personio/hr/ghost")
        plain = await post(client, envelope(), path="/webhooks/personio/hr/plain")
        assert ghost.status_code == plain.status_code == 429
        w.clock += 2
        assert (await post(client, envelope(), token="guess")).status_code == 401


async def test_hook_10_a_guesser_never_holds_back_a_right_token_the_receiver_has_not_cached() -> (
    None
):
    """Behind an Ingress a guesser shares Personio's address. A resource nothing was
    delivered to since the start, and one whose token was read long ago, still take
    their right token while that address is throttled (each read spaced like a guess's)."""
    other = "other-token-0123456789abcdef-0123"
    w = World()
    w.add("hr", "acme", TOKEN)
    w.add("hr", "quiet", other)
    async with serving(w, limits=Limits(failures=3, failure_window_seconds=6)) as (client, m):
        assert (await post(client, envelope())).status_code == 202  # acme's token is read
        w.clock += 400  # long past the cache's max age
        for _ in range(3):
            assert (await post(client, envelope(), token="guess")).status_code == 401
        assert (await post(client, envelope(), token="guess")).status_code == 429
        assert (await post(client, envelope())).status_code == 202  # an old read still sorts
        quiet = "/webhooks/personio/hr/quiet"
        assert (await post(client, envelope(), token=other, path=quiet)).status_code == 202
        assert (await post(client, envelope(), token="guess", path=quiet)).status_code == 429
        assert counted(m, "accepted") == 3


def test_hook_10_the_table_of_caller_addresses_is_bounded() -> None:
    clock = [0.0]
    wrong: Buckets[str] = Buckets(1, 0.1, max_keys=100, clock=lambda: clock[0])
    assert wrong.take("first") == 0 and wrong.take("first") > 0
    for i in range(10_000):
        wrong.take(f"10.0.{i // 256}.{i % 256}")
    assert len(wrong) == 100
    assert wrong.take("first") == 0  # forgotten, the stalest first: it starts full again
    assert retry_after(0.2) == "1" and retry_after(2.0) == "2" and retry_after(2.1) == "3"


async def test_hook_11_a_header_that_is_not_utf_8_is_401_not_a_crash(world: Any) -> None:
    w, client, metrics = world
    w.add("hr", "plain", None)
    assert (await post(client, envelope(), token=b"\xff\xfe hook")).status_code == 401
    assert (await post(client, envelope(), token=TOKEN.encode() + b"\xff")).status_code == 401
    assert counted(metrics, "unauthorized") == 2 and w.noted == []
    plain = "/webhooks/personio/hr/plain"  # no token there: absent, whatever is presented
    assert (await post(client, envelope(), token=b"\xff", path=plain)).status_code == 404


async def test_hook_11_a_token_shorter_than_32_characters_opens_nothing(world: Any) -> None:
    w, client, _ = world
    short = "s" * (MIN_LENGTH - 1)
    w.add("hr", "short", f"Bearer {short}")  # `Bearer ` does not count
    w.add("hr", "long", "l" * MIN_LENGTH)
    refused = await post(client, envelope(), token=short, path="/webhooks/personio/hr/short")
    unknown = await post(client, envelope(), token=short, path="/webhooks/personio/hr/ghost")
    assert refused.status_code == unknown.status_code == 404
    assert refused.json() == unknown.json()
    path = "/webhooks/personio/hr/long"
    assert (await post(client, envelope(), token="l" * MIN_LENGTH, path=path)).status_code == 202
    assert [name for _, name, _ in w.noted] == ["long"]


async def test_hook_11_a_rotated_token_is_refused_at_its_very_next_delivery(world: Any) -> None:
    w, client, _ = world
    assert (await post(client, envelope())).status_code == 202
    w.add("hr", "acme", "rotated-token-2b-0123456789abcdef")  # no time passes
    assert (await post(client, envelope())).status_code == 401
    assert len(w.noted) == 1


async def test_hook_11_a_removed_token_is_refused_at_its_very_next_delivery(world: Any) -> None:
    w, client, _ = world
    assert (await post(client, envelope())).status_code == 202
    w.add("hr", "acme", None)
    unknown = await post(client, envelope(), path="/webhooks/personio/hr/ghost")
    removed = await post(client, envelope())
    assert removed.status_code == 404 and removed.json() == unknown.json()
    assert len(w.noted) == 1


async def test_hook_11_a_removed_resource_is_refused_at_its_very_next_delivery(
    world: Any,
) -> None:
    w, client, _ = world
    assert (await post(client, envelope())).status_code == 202
    del w.resources[("hr", "acme")]
    assert (await post(client, envelope())).status_code == 404


async def test_hook_10_a_forgotten_resource_starts_with_a_full_budget_and_no_token() -> None:
    """`forget` (the resource was deleted): a re-created one starts clean."""
    w = World()
    w.add("hr", "acme", TOKEN)
    kube = w.kube()
    receiver = WebhookReceiver(
        secret_of=lambda ns, name: w.resources.get((ns, name)),
        notify=w.notify,
        tokens=WebhookTokens(kube, clock=lambda: w.clock),
        metrics=Metrics(),
        clock=lambda: w.clock,
        limits=Limits(burst=1, per_second=0.01),
    )
    port = await receiver.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await post(client, envelope())).status_code == 202
            assert (await post(client, envelope())).status_code == 429
            receiver.forget("hr", "acme")
            assert (await post(client, envelope())).status_code == 202
    finally:
        await receiver.stop()
        await kube.close()


async def test_hook_11_a_burst_of_right_tokens_shares_the_fresh_reads() -> None:
    """Concurrent deliveries queue behind one Secret read and share the next one (begun
    after they all arrived), instead of one GET each in a row."""
    w = World()
    w.add("hr", "acme", TOKEN)
    w.api_server_delay = 0.05
    async with serving(w, clock=time.monotonic) as (client, _):
        assert (await post(client, envelope())).status_code == 202  # fills the cache
        answers = await asyncio.gather(*(post(client, envelope(pid=f"p-{i}")) for i in range(20)))
    assert [a.status_code for a in answers] == [202] * 20
    assert w.secret_gets <= 4

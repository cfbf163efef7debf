"""The part both fakes share: a real aiohttp server on 127.0.0.1 plus the admin API.

A middleware sits in front of every vendor route and does, in order: fault
injection, latency, rate limiting, then the route, then the journal entry.
Routes under `/_admin` skip all of that (no auth, no faults, not journaled), so
tests can always inspect and steer a fake even while it is "failing".
"""

from __future__ import annotations

import abc
import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from aiohttp import web
from pydantic import ValidationError

from personio_sync_testing.fakes.knobs import FaultBook, FaultRule, Journal, JournalEntry, Knobs
from personio_sync_testing.fakes.seed import SeedSource, load_seed, section

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ADMIN = "/_admin"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class VendorError(Exception):
    """Raised by route code to answer with a ready-made vendor-style error response."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class _Held:
    """A commit_on_resend request, waiting for the client to send it again."""

    entry: JournalEntry
    resent: asyncio.Event
    committed: asyncio.Event

    def same_request(self, other: JournalEntry) -> bool:
        mine = self.entry
        return (mine.method, mine.path, mine.body) == (other.method, other.path, other.body)


class FakeState(Protocol):
    def load(self, doc: Mapping[str, Any]) -> None: ...
    def dump(self) -> dict[str, Any]: ...


StateT = TypeVar("StateT", bound=FakeState)
KnobsT = TypeVar("KnobsT", bound=Knobs)


def json_response(payload: Any, status: int = 200, **kw: Any) -> web.Response:
    """JSON of any shape (aiohttp's own helper is typed for objects only)."""
    return web.json_response(payload, status=status, **kw)


class FakeServer(abc.ABC, Generic[StateT, KnobsT]):
    """Lifecycle, middleware and common admin routes; subclasses add the vendor's API."""

    section_name: ClassVar[str]
    api_root: ClassVar[str] = ""
    journal_bodies: ClassVar[bool] = False

    def __init__(
        self,
        seed: SeedSource = None,
        *,
        knobs: KnobsT | None = None,
        today: date | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._initial_seed = section(load_seed(seed, today=today), self.section_name)
        self._today = today
        self._host, self._port = host, port
        self.knobs: KnobsT = knobs if knobs is not None else self._default_knobs()
        self._initial_knobs = self.knobs.model_copy(deep=True)
        self.journal = Journal()
        self.faults = FaultBook(self.api_root)
        self.state: StateT = self._new_state()
        self.state.load(self._initial_seed)
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.in_flight = 0  # API requests being served now (tests wait on it, never sleep)
        self._held: list[_Held] = []  # commit_on_resend requests waiting for their resend

    # -- subclass hooks -------------------------------------------------------------------

    @abc.abstractmethod
    def _default_knobs(self) -> KnobsT: ...

    @abc.abstractmethod
    def _new_state(self) -> StateT: ...

    @abc.abstractmethod
    def _api_routes(self) -> list[web.RouteDef]: ...

    @abc.abstractmethod
    def _admin_routes(self) -> list[web.RouteDef]: ...

    @abc.abstractmethod
    def _error(self, status: int, detail: str, path: str) -> web.Response:
        """The vendor's error body for a plain HTTP status (404 route, 5xx fault, …)."""

    @abc.abstractmethod
    def _rate_limited(self, request: web.Request) -> tuple[web.Response | None, dict[str, str]]:
        """Apply the vendor's rate limit: (429 response or None, headers for the response)."""

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        """Where the server listens (the admin API lives at root_url + /_admin)."""
        if self._runner is None:
            raise RuntimeError("the fake is not running: use `async with` or await start()")
        return f"http://{self._host}:{self._port}"

    @property
    def url(self) -> str:
        """The vendor API's base URL, as a client is configured with it."""
        return self.root_url + self.api_root

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(self._api_routes())
        app.add_routes(self._common_admin_routes() + self._admin_routes())
        self._stopping = asyncio.Event()
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- in-process control ---------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seed given at construction; no faults, empty journal, initial knobs."""
        self.state.load(self._initial_seed)
        self.journal.clear()
        self.faults.clear()
        self.knobs = self._initial_knobs.model_copy(deep=True)
        self._reset_limits()

    def _reset_limits(self) -> None:
        """Forget rate-limit history (subclasses keep buckets or windows)."""

    def seed(self, doc: SeedSource) -> None:
        """Replace the data (not knobs, faults or journal) with a seed document."""
        self.state.load(section(load_seed(doc, today=self._today), self.section_name))

    def set_knobs(self, **changes: Any) -> None:
        """Change knobs at runtime; validated like the admin API (ValidationError if wrong)."""
        merged = {**self.knobs.model_dump(), **changes}
        self.knobs = type(self.knobs).model_validate(merged)

    def inject(self, *rules: FaultRule | Mapping[str, Any]) -> None:
        self.faults.add(*(r if isinstance(r, FaultRule) else FaultRule(**r) for r in rules))

    # -- middleware -----------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(ADMIN):
            return await self._admin_guard(request, handler)
        entry = JournalEntry(request.method, request.path, dict(request.query))
        rule = self.faults.match(request.method, request.path)
        self.in_flight += 1
        try:
            if self.journal_bodies and request.can_read_body:
                entry.body = _parse_json(await request.read())
            await self._commit_held(entry)
            while self.knobs.hold_writes and request.method in WRITES:
                if self._stopping.is_set():
                    break
                await asyncio.sleep(0.02)
            if rule is not None:
                entry.fault = rule.kind
                return await self._apply_fault(rule, request, entry, handler)
            delay = self.knobs.latency_s(request.path, request.method)
            if delay > 0:
                await asyncio.sleep(delay)
            response = await self._serve(request, handler)
            entry.status = response.status
            return response
        except ConnectionError:
            # The client went away mid-request (a cancelled run): nobody to answer.
            entry.fault = entry.fault or "client_gone"
            return web.Response(status=499)
        finally:
            self.in_flight -= 1
            self.journal.append(entry)

    async def _serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        limited, headers = self._rate_limited(request)
        if limited is not None:
            return limited
        try:
            response = await handler(request)
        except VendorError as err:
            response = err.response
        except web.HTTPException as exc:
            response = self._error(exc.status, exc.reason, request.path)
        response.headers.update(headers)
        return response

    async def _apply_fault(
        self, rule: FaultRule, request: web.Request, entry: JournalEntry, handler: Handler
    ) -> web.StreamResponse:
        if rule.kind == "late_commit":
            await asyncio.sleep(rule.hold_ms / 1000.0 / self.knobs.time_scale)
        held = _Held(entry, asyncio.Event(), asyncio.Event())
        if rule.kind == "commit_on_resend":
            self._held.append(held)
            await held.resent.wait()
        if rule.kind in ("lost_answer", "drop_answer", "late_commit", "commit_on_resend"):
            try:
                entry.status = (await self._serve(request, handler)).status
            finally:
                held.committed.set()
        if rule.kind in (
            "drop", "timeout", "lost_answer", "drop_answer", "late_commit", "commit_on_resend"
        ):  # fmt: skip
            if rule.kind in ("timeout", "lost_answer"):
                await self._hold(request)
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=499)
        if rule.kind == "malformed":
            entry.status = 200
            return web.Response(text='{"_data": [{"id": ', content_type="application/json")
        status = 429 if rule.kind == "rate_limit" else rule.status
        response = self._fault_response(status, request)
        entry.status = response.status
        return response

    async def _commit_held(self, entry: JournalEntry) -> None:
        """A request sent again: a held commit_on_resend copy of it is carried out first."""
        for held in [h for h in self._held if h.same_request(entry)]:
            self._held.remove(held)
            held.resent.set()
            await held.committed.wait()

    def _fault_response(self, status: int, request: web.Request) -> web.Response:
        return self._error(status, "injected fault", request.path)

    async def _hold(self, request: web.Request) -> None:
        """Keep a request open until the client gives up or the fake stops."""
        while not self._stopping.is_set():
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            await asyncio.sleep(0.02)

    async def _admin_guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except (ValidationError, ValueError, KeyError, TypeError) as exc:
            status = 404 if isinstance(exc, KeyError) else 400
            return json_response({"error": type(exc).__name__, "detail": str(exc)}, status)

    # -- common admin routes --------------------------------------------------------------

    def _common_admin_routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{ADMIN}/state", self._admin_state),
            web.post(f"{ADMIN}/reset", self._admin_reset),
            web.post(f"{ADMIN}/seed", self._admin_seed),
            web.get(f"{ADMIN}/faults", self._admin_get_faults),
            web.post(f"{ADMIN}/faults", self._admin_add_faults),
            web.delete(f"{ADMIN}/faults", self._admin_clear_faults),
            web.get(f"{ADMIN}/knobs", self._admin_get_knobs),
            web.put(f"{ADMIN}/knobs", self._admin_put_knobs),
            web.get(f"{ADMIN}/journal", self._admin_journal),
            web.delete(f"{ADMIN}/journal", self._admin_clear_journal),
        ]

    async def _admin_state(self, request: web.Request) -> web.Response:
        return json_response(self.state.dump())

    async def _admin_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return json_response({"ok": True})

    async def _admin_seed(self, request: web.Request) -> web.Response:
        self.seed(await admin_body(request))
        return json_response(self.state.dump())

    async def _admin_get_faults(self, request: web.Request) -> web.Response:
        return json_response(self.faults.rules())

    async def _admin_add_faults(self, request: web.Request) -> web.Response:
        body = await admin_body(request, allow_list=True)
        self.inject(*(body if isinstance(body, list) else [body]))
        return json_response(self.faults.rules())

    async def _admin_clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return json_response([])

    async def _admin_get_knobs(self, request: web.Request) -> web.Response:
        return json_response(self.knobs.model_dump())

    async def _admin_put_knobs(self, request: web.Request) -> web.Response:
        self.set_knobs(**await admin_body(request))
        return json_response(self.knobs.model_dump())

    async def _admin_journal(self, request: web.Request) -> web.Response:
        return json_response([e.as_dict() for e in self.journal.entries()])

    async def _admin_clear_journal(self, request: web.Request) -> web.Response:
        self.journal.clear()
        return json_response([])


async def admin_body(request: web.Request, *, allow_list: bool = False) -> Any:
    """The admin request's JSON body: an object (or a list where allowed)."""
    body = _parse_json(await request.read()) if request.can_read_body else {}
    if isinstance(body, dict) or (allow_list and isinstance(body, list)):
        return body
    raise ValueError("the admin API expects a JSON object body")


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")

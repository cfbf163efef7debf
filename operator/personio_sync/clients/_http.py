"""The retry loop both clients share, and the ONE place where httpx errors are translated.

Both vendors fail the same ways (429, 5xx, timeouts, dropped connections, truncated
bodies) but want different exception classes and different 429 waits, so the loop
is written once and parametrised by a `Vendor` (its exception factories) and a
`rate_limit_wait` callback. It returns a `Reply` with the JSON already decoded:
decoding happens inside the loop because a truncated body is as retryable as a
dropped connection. Non-retryable statuses (2xx, 4xx other than 429) are returned
for the vendor client to interpret; only the client knows what a 401 or 404 means.
A 5xx that outlasts the retries is a `…ServerError`, a kind of "unreachable": the
vendor gave no useful answer, just as with a timeout (FAIR-4).

Nothing here ever formats a request header, body or token into a message or log.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from personio_sync.errors import SyncError, clip

log = logging.getLogger("personio_sync.clients")


@dataclass
class RequestStats:
    """What a client did, for the benchmark and metrics. Holds no URLs, queries or secrets.

    `requests` counts attempts per endpoint template ("GET /v2/persons",
    "PUT /absences/{id}"); a retried request counts once per attempt.
    """

    requests: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    rate_limited: int = 0
    rate_limit_wait_seconds: float = 0.0
    pacing_wait_seconds: float = 0.0
    token_refreshes: int = 0
    # Unsafe requests whose outcome was unknown and that were found done (D-Once).
    settled: int = 0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def count(self, endpoint: str) -> None:
        self.requests[endpoint] = self.requests.get(endpoint, 0) + 1


@dataclass(frozen=True)
class Reply:
    """A final (non-retried) answer: status, headers and the decoded JSON body (None if empty)."""

    status: int
    headers: httpx.Headers
    body: object


@dataclass(frozen=True)
class Vendor:
    """How one vendor names itself in messages and which exceptions it raises."""

    name: str
    transport_error: Callable[[str], SyncError]
    rate_limited: Callable[[str], SyncError]
    status_error: Callable[[str, int], SyncError]
    server_error: Callable[[str, int], SyncError]  # 5xx that outlasted the retries


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with jitter: attempt n waits about base * 2**n, capped."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, floor: float = 0.0) -> float:
        ceiling = min(self.cap, self.base * 2**attempt)
        return max(floor, random.uniform(ceiling / 2, ceiling))


class Pacer(Protocol):
    """Client-side rate limiting hooks (awork); Personio runs without one."""

    async def acquire(self) -> float: ...

    def release(self, headers: httpx.Headers | None) -> None: ...

    def block_for(self, seconds: float) -> None: ...


RateLimitWait = Callable[[httpx.Response, int], float]
Sleep = Callable[[float], Awaitable[None]]  # tests record the waits instead of sleeping
RequestFactory = Callable[[], httpx.Request]
# Looks up whether a request whose answer was lost took effect; its Reply if it did.
Settle = Callable[[], Awaitable["Reply | None"]]

# Bounds on one answer (issue 7): a broken or hostile vendor can neither fill the memory
# nor hold a run with a body that drips in forever. Pages are bounded by each client.
MAX_BODY_BYTES = 32 * 1024 * 1024  # an awork page of 1,000 absences is about 0.5 MB
ATTEMPT_SECONDS = 120.0  # the whole answer, not just between two reads
MAX_PAGES = 10_000  # Org L reads 576 Personio pages; a longer list is a loop or a flood

# Failures that prove the request never reached the server: safe to send again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class RetryingSender:
    """Sends one logical request with bounded retries; raises only the vendor's exceptions."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        vendor: Vendor,
        *,
        max_retries: int,
        backoff: Backoff,
        rate_limit_wait: RateLimitWait,
        pacer: Pacer | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        attempt_seconds: float = ATTEMPT_SECONDS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._sleep = sleep
        self._max_body = max_body_bytes
        self._attempt_seconds = attempt_seconds
        self._http = http
        self._vendor = vendor
        self._max_retries = max_retries
        self.backoff = backoff
        self._rate_limit_wait = rate_limit_wait
        self._pacer = pacer
        self.stats = RequestStats()

    async def send(
        self, endpoint: str, build: RequestFactory, *, settle: Settle | None = None
    ) -> Reply:
        """`build` makes a fresh request per attempt (headers may change, e.g. a new token).

        `settle` makes an unsafe request (a POST) idempotent (D-Once): when an attempt
        may have reached the server but its answer is unknown (a timeout after sending,
        a dropped connection, a 5xx, a cut-short body), the request is not re-sent
        blindly: `settle` looks for its effect first, and a found effect is the answer."""
        attempt = 0
        while True:
            failure = await self._attempt(endpoint, build, attempt)
            if isinstance(failure, Reply):
                return failure
            if failure.maybe_done and settle is not None:
                settled = await settle()
                if settled is not None:
                    self.stats.settled += 1
                    return settled
            if attempt >= self._max_retries:
                raise failure.error from failure.cause
            await self._wait(endpoint, failure, attempt)
            attempt += 1
            self.stats.retries += 1

    async def _attempt(self, endpoint: str, build: RequestFactory, attempt: int) -> Reply | _Retry:
        if self._pacer is not None:
            waited = await self._pacer.acquire()  # not `+= await`: that loses concurrent updates
            self.stats.pacing_wait_seconds += waited
        self.stats.count(endpoint)
        headers: httpx.Headers | None = None
        try:
            response = await self._receive(build())
            headers = response.headers
            return self._classify(endpoint, response, attempt)
        except _Unbounded as exc:
            message = self._unreachable(endpoint, attempt, str(exc))
            error = self._vendor.transport_error(message)
            return _Retry(error, None, self.backoff.delay(attempt), maybe_done=True)
        except httpx.HTTPError as exc:
            kind = (
                f"{type(exc).__name__}: {clip(str(exc), 120)}" if str(exc) else type(exc).__name__
            )
            log.debug("%s %s failed (attempt %d): %s", self._vendor.name, endpoint, attempt, kind)
            message = self._unreachable(endpoint, attempt, kind)
            error = self._vendor.transport_error(message)
            sent = not isinstance(exc, _NOT_SENT)
            return _Retry(error, exc, self.backoff.delay(attempt), maybe_done=sent)
        finally:
            if self._pacer is not None:
                self._pacer.release(headers)

    async def _receive(self, request: httpx.Request) -> httpx.Response:
        """The whole answer, read within the attempt's deadline and up to the size cap."""
        body = bytearray()
        try:
            async with asyncio.timeout(self._attempt_seconds):
                response = await self._http.send(request, stream=True)
                try:
                    async for chunk in response.aiter_bytes():  # decoded: a zip bomb counts
                        body += chunk
                        if len(body) > self._max_body:
                            raise _Unbounded(f"an answer larger than {self._max_body} bytes")
                finally:
                    await response.aclose()
        except TimeoutError:
            raise _Unbounded(f"no whole answer within {self._attempt_seconds:.0f} s") from None
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length")]  # fmt: skip
        return httpx.Response(
            response.status_code, headers=headers, content=bytes(body), request=request
        )

    def _classify(self, endpoint: str, response: httpx.Response, attempt: int) -> Reply | _Retry:
        status = response.status_code
        log.debug("%s %s -> %d (attempt %d)", self._vendor.name, endpoint, status, attempt)
        if status == 429:
            self.stats.rate_limited += 1
            wait = self._rate_limit_wait(response, attempt)
            if self._pacer is not None:
                self._pacer.block_for(wait)
            message = (
                f"{self._vendor.name} kept answering 429 Too Many Requests for {endpoint} "
                f"after {attempt + 1} attempts; the sync retries on its next run"
            )
            return _Retry(self._vendor.rate_limited(message), None, wait, rate_limit=True)
        if status >= 500:  # FAIR-4: a vendor that keeps failing is unreachable, not wrong
            message = (
                f"{self._vendor.name} answered {status} for {endpoint} after "
                f"{attempt + 1} attempts: {clip(response.text, 120) or 'no details'}; "
                "the sync retries on its next run"
            )
            error = self._vendor.server_error(message, status)
            return _Retry(error, None, self.backoff.delay(attempt), maybe_done=True)
        try:
            body = response.json() if response.content.strip() else None
        except (ValueError, RecursionError) as exc:  # truncated, badly encoded, nested 10k deep
            if status >= 400:  # an unparseable error body is still a definite answer
                return Reply(status, response.headers, None)
            message = self._unreachable(endpoint, attempt, "the response body was not valid JSON")
            error = self._vendor.transport_error(message)
            return _Retry(error, exc, self.backoff.delay(attempt), maybe_done=True)
        return Reply(status, response.headers, body)

    def _unreachable(self, endpoint: str, attempt: int, what: str) -> str:
        return (
            f"Could not get a usable answer from {self._vendor.name} for {endpoint} after "
            f"{attempt + 1} attempts ({what}); check the network access to {self._vendor.name} "
            f"and its base URL"
        )

    async def _wait(self, endpoint: str, failure: _Retry, attempt: int) -> None:
        log.debug(
            "%s %s: retry %d in %.2fs", self._vendor.name, endpoint, attempt + 1, failure.wait
        )
        if failure.rate_limit:
            self.stats.rate_limit_wait_seconds += failure.wait
        await self._sleep(failure.wait)


class _Unbounded(Exception):
    """An answer past the size cap or the attempt's deadline (message: what happened)."""


@dataclass(frozen=True)
class _Retry:
    error: SyncError
    cause: BaseException | None
    wait: float
    rate_limit: bool = False
    maybe_done: bool = False  # the server may have acted on it (only unsafe requests care)


M = TypeVar("M", bound=BaseModel)


def parse_model(vendor: Vendor, model: type[M], body: object, endpoint: str) -> M:
    """A vendor's JSON as its model; what does not fit is the vendor's transport error,
    naming where, never the values."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise vendor.transport_error(
            f"{vendor.name} answered {endpoint} with data this client does not understand "
            f"({exc.error_count()} problems, first at {clip(where, 80)}: {clip(first['msg'], 80)})"
        ) from None  # the ValidationError holds the input values (maybe a token): never chain it

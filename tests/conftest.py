"""Checks every test gets for free: it leaks no asyncio task, and no credential in a log.

* Leaked tasks: an async test (with its fixtures torn down) must leave no task it
  created still pending; a leaked task is a worker or a retry loop nobody stops. The
  check is cancelled tasks' names in the failure, and the tasks are cancelled so they
  cannot disturb the next test.
* Leaked secrets: every credential the suite hands to the clients and the fakes is
  listed below; none may appear in a captured log record (message, arguments and
  traceback alike). The product's own loggers (`personio_sync.*`) are captured down to
  DEBUG for this, so a secret logged "only at debug level" is caught too (R21).

Both are cheap: one set difference per async test, and the captured records of the
product's loggers formatted once per test.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import AsyncIterator, Iterator

import pytest
from pytest_asyncio import is_async_test

pytest_plugins = ["pytester"]  # tests/unit/test_root_checks.py runs these checks on purpose

# Every credential the tests use: the fakes' seeds, the helpers' constants, the examples.
KNOWN_SECRETS = (
    "S3CR3T",  # tests/integration/test_client_secrets.py marks all of its secrets so
    "sync-secret",
    "awork-api-key",
    "demo-secret",
    "demo-awork-key",
    "sandbox-secret",
    "sandbox-awork-key",
    "rotated-secret",
    "rotated-key-2f6a",
    "wrong-secret-4be9d3",
    "wrong-key-71c0e2",
    "acme-secret-9d2f41",
    "acme-awork-key-5c8e17",
    "awk-9a8b7c-key-value",
    "secret-api-key-1",
    "secret-api-key-2",
    "contract-key",
)
# Access tokens the fake Personio issues ("papi-" and 48 hex digits).
_TOKEN = re.compile(r"papi-[0-9a-f]{48}")
_PRODUCT_LOGGER = "personio_sync"
_TASK_SETTLE_CYCLES = 3  # loop cycles a task cancelled in teardown gets to finish


def leaked_secret(text: str) -> str | None:
    """The first known credential in `text` (shortened, so the report leaks nothing)."""
    for secret in KNOWN_SECRETS:
        if secret in text:
            return secret[:6] + "…"
    token = _TOKEN.search(text)
    return token.group()[:9] + "…" if token else None


def _record_text(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    return f"{text}\n{record.exc_text or ''}\n{record.stack_info or ''}"


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test when a captured log record holds a known credential (R21)."""
    product = logging.getLogger(_PRODUCT_LOGGER)
    level = product.level
    product.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        product.setLevel(level)
    for phase in ("setup", "call"):
        for record in caplog.get_records(phase):
            found = leaked_secret(_record_text(record))
            if found is not None:
                pytest.fail(
                    f"a log record of {record.name} ({phase}) holds the credential {found}",
                    pytrace=False,
                )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> object:
    """Works around looptime 0.9 creating, and never closing, an event loop for every sync
    test that follows a sync-only module (it asks the policy for the current loop, which
    makes one on the main thread): sync tests do not show it pytest-asyncio's policy."""
    funcargs = pyfuncitem.funcargs
    hide = not is_async_test(pyfuncitem) and (
        "event_loop_policy" not in inspect.signature(pyfuncitem.obj).parameters
    )
    policy = funcargs.pop("event_loop_policy", None) if hide else None
    try:
        return (yield)
    finally:
        if policy is not None:
            funcargs["event_loop_policy"] = policy


@pytest.fixture(autouse=True)
def no_leaked_tasks(request: pytest.FixtureRequest) -> None:
    """Async tests get the task check; sync tests pay nothing."""
    if isinstance(request.node, pytest.Function) and is_async_test(request.node):
        request.getfixturevalue("_tasks_left_behind")


@pytest.fixture
async def _tasks_left_behind() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    for _ in range(_TASK_SETTLE_CYCLES):
        await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() - before if not t.done()]
    leaked = [t for t in leaked if t is not asyncio.current_task()]
    if not leaked:
        return
    for task in leaked:
        task.cancel()
    await asyncio.gather(*leaked, return_exceptions=True)
    names = sorted(task.get_name() for task in leaked)
    pytest.fail(f"the test left {len(leaked)} asyncio task(s) running: {names}", pytrace=False)

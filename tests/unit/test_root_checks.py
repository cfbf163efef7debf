"""The root conftest's autouse checks fail a test that leaks a task or logs a credential."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

INNER_TESTS = """
import asyncio
import logging

import pytest

log = logging.getLogger("personio_sync.clients")


async def test_leaks_a_task():
    asyncio.create_task(asyncio.sleep(3600), name="forgotten retry loop")


async def test_cancels_its_task():
    task = asyncio.create_task(asyncio.sleep(3600), name="stopped worker")
    await asyncio.sleep(0)
    task.cancel()


def test_logs_a_secret_at_debug():
    log.debug("token request with client_secret=%s", "demo-secret")


async def test_logs_a_fake_token_in_a_traceback():
    try:
        raise ValueError("Bearer papi-" + "ab" * 24)
    except ValueError:
        log.warning("request failed", exc_info=True)


def test_logs_nothing_secret():
    log.info("synced 3 absences for hr/team")
"""


def test_leaked_tasks_and_logged_credentials_fail_the_test(
    pytester: pytest.Pytester, caplog: pytest.LogCaptureFixture
) -> None:
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    caplog.clear()  # the inner tests' records, secrets included, are not this test's logs
    result.assert_outcomes(passed=5, errors=3)
    out = result.stdout.str()
    assert "left 1 asyncio task(s) running: ['forgotten retry loop']" in out
    assert "stopped worker" not in out
    assert "holds the credential demo-s…" in out and "holds the credential papi-abab…" in out

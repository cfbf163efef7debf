"""R21 end to end: recognisable credentials ("S3CR3T-…") never show up anywhere a user or
an operator could read them — whatever goes wrong during a run.

Every error path of run_sync (wrong credentials, missing scope, hidden e-mail, 5xx,
429, timeouts, malformed bodies, dropped connections, a key revoked mid-run, item
failures) and of the CLI (the same over a subprocess, plus a missing Secret key and
a Secret manifest that is not valid YAML) is checked: exception str/repr/args/
attributes and the whole formatted chain, the report (JSON and text), logs captured
at DEBUG (httpx and httpcore included), and the CLI's stdout and stderr. Personio
access tokens (the fake's start with "papi-") must not leak either.
"""

from __future__ import annotations

import json
import logging
import subprocess
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from runner_demo import SICK
from runner_helpers import (
    CLI,
    RESOURCE,
    TODAY,
    environment,
    fast_clients,
    http_timeout_for,
    sandbox_for,
    sync,
)

from personio_sync.cli.report_text import render_text
from personio_sync.engine.report import SyncReport
from personio_sync.errors import SyncError
from personio_sync.sync.runner import Credentials
from personio_sync_testing.fakes import Sandbox, demo_seed_path, load_seed

CLIENT_ID = "S3CR3T-personio-id-5e0c"
CLIENT_SECRET = "S3CR3T-personio-secret-91fa"
API_KEY = "S3CR3T-awork-key-77d3"
WRONG = "S3CR3T-wrong-b210"
LEAKS = ("S3CR3T", "papi-")  # every credential above, and any Personio access token
SECRETS = Credentials(CLIENT_ID, CLIENT_SECRET, API_KEY)


def secret_company() -> dict[str, Any]:
    seed = load_seed(demo_seed_path(), today=TODAY)
    seed["personio"]["credentials"] = [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}]
    api_user = seed["awork"]["api_users"][0]["id"]
    seed["awork"]["api_keys"] = [{"key": API_KEY, "api_user_id": api_user}]
    return seed


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with sandbox_for(secret_company()) as running:
        yield running


def assert_no_secret(*texts: str) -> None:
    shown = "\n".join(texts)
    for leak in LEAKS:
        where = shown.find(leak)
        assert where < 0, f"{leak}… leaked after: {shown[max(0, where - 120) : where]!r}"


def printable(exc: BaseException) -> str:
    """Everything an operator or a log line could show about an exception and its chain."""
    parts = [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    return "\n".join(parts + traceback.format_exception(exc))


def report_texts(report: SyncReport) -> list[str]:
    return [json.dumps(report.to_json()), render_text(report), repr(report)]


# --- run_sync -----------------------------------------------------------------------------

Setup = Callable[[Sandbox], Credentials]


def wrong_personio_secret(sandbox: Sandbox) -> Credentials:
    return Credentials(CLIENT_ID, WRONG, API_KEY)


def wrong_personio_id(sandbox: Sandbox) -> Credentials:
    return Credentials(WRONG, CLIENT_SECRET, API_KEY)


def wrong_awork_key(sandbox: Sandbox) -> Credentials:
    return Credentials(CLIENT_ID, CLIENT_SECRET, WRONG)


def missing_scope(sandbox: Sandbox) -> Credentials:
    cred = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    sandbox.personio_state.put_credential({**cred, "scopes": ["personio:absences:read"]})
    return SECRETS


def email_hidden(sandbox: Sandbox) -> Credentials:
    cred = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "email_readable": False}
    sandbox.personio_state.put_credential(cred)
    return SECRETS


def item_failure(sandbox: Sandbox) -> Credentials:
    sandbox.personio_state.put_absence_type({"id": SICK, "name": "S" * 1001})
    return SECRETS


def fault(vendor: str, kind: str, path: str, method: str | None = None) -> Setup:
    def setup(sandbox: Sandbox) -> Credentials:
        fake = sandbox.personio if vendor == "personio" else sandbox.awork
        fake.inject({"kind": kind, "path_prefix": path, "method": method})
        return SECRETS

    setup.__name__ = f"{vendor}_{kind}_{(method or 'any').lower()}_{path.strip('/')}"
    return setup


SETUPS: list[Setup] = [
    wrong_personio_secret,
    wrong_personio_id,
    wrong_awork_key,
    missing_scope,
    email_hidden,
    item_failure,
    *(fault("personio", k, "/v2/auth/token") for k in ("status", "malformed", "drop")),
    *(fault("personio", k, "/v2/persons") for k in ("status", "rate_limit", "timeout")),
    *(fault("awork", k, "/users", "GET") for k in ("status", "malformed", "timeout")),
    *(fault("awork", k, "/absences", "POST") for k in ("status", "rate_limit", "drop")),
]


@pytest.mark.parametrize("setup", SETUPS, ids=lambda s: s.__name__)
async def test_r21_run_sync_error_paths_show_no_secret(
    sandbox: Sandbox, setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = setup(sandbox)
    shown: list[str] = [repr(credentials)]

    timeout = http_timeout_for(sandbox)
    async with fast_clients(sandbox, credentials, http_timeout=timeout) as clients:
        try:
            report = await sync(sandbox, credentials=credentials, clients=clients)
        except SyncError as error:
            shown.append(printable(error))
        else:
            shown += report_texts(report)
            assert report.failures, "a run without errors tells nothing about leaks"
        shown += [repr(clients), repr(clients.personio.stats), repr(clients.awork.stats)]

    assert caplog.records, "the error path should have logged something to inspect"
    assert_no_secret(*shown, caplog.text)


async def test_r21_key_revoked_during_the_writes_shows_no_secret(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def revoke(request: httpx.Request) -> None:
        if request.method == "POST" and API_KEY in sandbox.awork_state.api_keys:
            sandbox.awork_state.revoke_api_key(API_KEY)

    hooks = {"request": [revoke]}
    async with fast_clients(sandbox, SECRETS, awork_hooks=hooks) as clients:
        with pytest.raises(SyncError) as caught:
            await sync(sandbox, credentials=SECRETS, clients=clients)

    assert_no_secret(printable(caught.value), caplog.text)


# --- the CLI ------------------------------------------------------------------------------


def secret_manifest(tmp_path: Path, **values: str | None) -> Path:
    data = {"personioClientId": CLIENT_ID, "personioClientSecret": CLIENT_SECRET}
    data["aworkApiKey"] = API_KEY
    merged = {k: v for k, v in {**data, **values}.items() if v is not None}
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "acme-credentials", "namespace": "hr"},
        "stringData": merged,
    }
    path = tmp_path / "secret.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def run_cli(
    sandbox: Sandbox, secret: Path | None, output: str, **env: str
) -> subprocess.CompletedProcess[str]:
    args = ["sync", "--resource", str(RESOURCE), "--output", output, "--today", str(TODAY)]
    args += ["--secret", str(secret)] if secret is not None else []
    result = subprocess.run(
        [CLI, *args],
        env=environment(sandbox, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result


def broken_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "secret.yaml"
    path.write_text(
        f"kind: Secret\nmetadata: {{name: acme-credentials}}\nstringData:\n"
        f"  aworkApiKey: {API_KEY}: [oops\n  personioClientSecret: '{CLIENT_SECRET}\n",
        encoding="utf-8",
    )
    return path


def fault_once(
    sandbox: Sandbox, vendor: str, path: str, kind: str, method: str | None = None
) -> None:
    fake = sandbox.personio if vendor == "personio" else sandbox.awork
    fake.inject({"kind": kind, "path_prefix": path, "method": method, "times": 1})


# Each case prepares the sandbox and returns the Secret manifest (None: credentials from
# the environment) and extra environment variables for the CLI.
CliCase = Callable[[Sandbox, Path], tuple[Path | None, dict[str, str]]]


def cli_wrong_personio_secret(sandbox: Sandbox, tmp: Path) -> tuple[Path | None, dict[str, str]]:
    return secret_manifest(tmp, personioClientSecret=WRONG), {}


def cli_wrong_awork_key(sandbox: Sandbox, tmp: Path) -> tuple[Path | None, dict[str, str]]:
    return secret_manifest(tmp, aworkApiKey=WRONG), {}


def cli_missing_key(sandbox: Sandbox, tmp: Path) -> tuple[Path | None, dict[str, str]]:
    return secret_manifest(tmp, aworkApiKey=None), {}


def cli_invalid_secret_yaml(sandbox: Sandbox, tmp: Path) -> tuple[Path | None, dict[str, str]]:
    return broken_yaml(tmp), {}


def cli_email_hidden(sandbox: Sandbox, tmp: Path) -> tuple[Path | None, dict[str, str]]:
    email_hidden(sandbox)
    return secret_manifest(tmp), {}


def cli_item_failure(sandbox: Sandbox, tmp: Path) -> tuple[Path | None, dict[str, str]]:
    item_failure(sandbox)
    return secret_manifest(tmp), {}


def cli_wrong_env_credentials(sandbox: Sandbox, tmp: Path) -> tuple[Path | None, dict[str, str]]:
    env = {"PERSONIO_CLIENT_ID": CLIENT_ID, "PERSONIO_CLIENT_SECRET": WRONG}
    return None, env | {"AWORK_API_KEY": API_KEY}


def cli_transient_faults(sandbox: Sandbox, tmp: Path) -> tuple[Path | None, dict[str, str]]:
    fault_once(sandbox, "personio", "/v2/auth/token", "malformed")
    fault_once(sandbox, "personio", "/v2/absence-periods", "status")
    fault_once(sandbox, "awork", "/users", "drop")
    fault_once(sandbox, "awork", "/absences", "status", "POST")
    return secret_manifest(tmp), {}


CLI_CASES: list[CliCase] = [
    cli_wrong_personio_secret,
    cli_wrong_awork_key,
    cli_missing_key,
    cli_invalid_secret_yaml,
    cli_email_hidden,
    cli_item_failure,
    cli_wrong_env_credentials,
    cli_transient_faults,
]


@pytest.mark.parametrize("output", ["json", "text"])
@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.__name__.removeprefix("cli_"))
def test_r21_cli_error_paths_show_no_secret(
    sandbox: Sandbox, tmp_path: Path, case: CliCase, output: str
) -> None:
    secret, env = case(sandbox, tmp_path)

    result = run_cli(sandbox, secret, output, **env)

    assert result.stdout or result.stderr
    assert_no_secret(result.stdout, result.stderr)

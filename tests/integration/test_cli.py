"""`personio-sync` as a user runs it: a real subprocess against a Sandbox (R16, R23).

The vendors' base URLs come from PERSONIO_API_URL / AWORK_API_URL (R22: never from
the resource), and the first line on stderr says which (UX-4). JSON mode prints exactly
the report and nothing else on stdout; every error is one line on stderr (after that
first line, once the run has started) and a non-zero exit; a completed run exits 0 even
with item failures, which are in the report.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from runner_demo import DEMO_REPORT
from runner_helpers import (
    CLI,
    RESOURCE,
    SECRET,
    TODAY,
    awork_writes,
    environment,
    expected_rows,
    owned_rows,
)

from personio_sync.engine.marker import owner_key
from personio_sync.engine.window import today_in
from personio_sync_testing.fakes import Sandbox, generate_company

OWNER = owner_key("hr", "acme", "cli")  # the example's namespace/name, the CLI's instance


def cli(
    *args: str | Path, sandbox: Sandbox | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *map(str, args)],
        env=env if env is not None else environment(sandbox),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def sync_args(
    *more: str | Path, resource: Path = RESOURCE, secret: Path | None = SECRET
) -> list[str | Path]:
    args: list[str | Path] = ["sync", "--resource", resource]
    args += ["--secret", secret] if secret is not None else []
    return [*args, *more]


def talking_to(sandbox: Sandbox) -> str:
    """The line a run starts with on stderr (UX-4), for URLs from the environment."""
    return (
        f"personio-sync: talking to Personio at {sandbox.personio_url} (from PERSONIO_API_URL), "
        f"awork at {sandbox.awork_url} (from AWORK_API_URL)"
    )


def one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """An error exits `code` with exactly one line on stderr besides the run's first line
    (UX-4); stdout holds nothing, or in JSON mode the same error as one JSON object."""
    assert result.returncode == code, result.stderr
    if "json" in result.args:
        (doc,) = [json.loads(line) for line in result.stdout.splitlines()]
        assert doc["error"]["exitCode"] == code and doc["error"]["reason"]
        assert doc["error"]["message"] in result.stderr
    else:
        assert result.stdout == ""
    lines = [x for x in result.stderr.splitlines() if not x.startswith("personio-sync: talking")]
    assert len(lines) == 1, f"expected one line on stderr, got {result.stderr!r}"
    assert lines[0].startswith("personio-sync: ") and "Traceback" not in lines[0]
    return lines[0]


def report_part(doc: dict[str, Any]) -> dict[str, Any]:
    """The JSON without what the CLI adds to the report's own shape (report_json.py)."""
    added = ("skippedReasons", "planned", "durationSeconds")
    users = {k: v for k, v in doc["users"].items()
             if k not in ("withoutEmail", "withoutEmailIds", "brokenMappings")}  # fmt: skip
    return {**{k: v for k, v in doc.items() if k not in added}, "users": users}


# --- sync, JSON ---------------------------------------------------------------------------


def test_sync_json_prints_exactly_the_report(demo: Sandbox) -> None:
    result = cli(*sync_args("--output", "json", "--today", TODAY.isoformat()), sandbox=demo)

    assert result.returncode == 0, result.stderr
    # stdout holds the JSON and nothing else: the report, and what the text report adds
    assert report_part(json.loads(result.stdout)) == {**DEMO_REPORT, "owner": OWNER}
    assert result.stderr.splitlines() == [talking_to(demo)]
    assert owned_rows(demo, OWNER) == expected_rows(demo, owner=OWNER)


def test_sync_credentials_from_the_environment(demo: Sandbox) -> None:
    secrets = {
        "PERSONIO_CLIENT_ID": "demo-client",
        "PERSONIO_CLIENT_SECRET": "demo-secret",
        "AWORK_API_KEY": "demo-awork-key",
    }
    args = sync_args("--output", "json", "--today", TODAY.isoformat(), secret=None)

    result = cli(*args, env=environment(demo, **secrets))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["actions"]["created"] == 7


def test_r16_sync_dry_run_writes_nothing(demo: Sandbox) -> None:
    result = cli(
        *sync_args("--dry-run", "--output", "json", "--today", TODAY.isoformat()), sandbox=demo
    )

    assert result.returncode == 0, result.stderr
    assert report_part(json.loads(result.stdout)) == {**DEMO_REPORT, "dryRun": True, "owner": OWNER}
    assert awork_writes(demo) == []
    assert owned_rows(demo, OWNER) == []


def test_r2_sync_today_sets_the_window(demo: Sandbox) -> None:
    result = cli(*sync_args("--dry-run", "--output", "json", "--today", "2026-12-31"), sandbox=demo)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["window"] == {"from": "2026-12-17", "to": "2027-06-29"}


def test_r2_sync_without_today_uses_the_date_in_the_resource_time_zone(demo: Sandbox) -> None:
    before = today_in("Europe/Berlin", datetime.now(UTC))
    result = cli(*sync_args("--dry-run", "--output", "json"), sandbox=demo)
    after = today_in("Europe/Berlin", datetime.now(UTC))

    assert result.returncode == 0, result.stderr
    start = json.loads(result.stdout)["window"]["from"]
    assert start in {(day - timedelta(days=14)).isoformat() for day in (before, after)}


def test_r15_item_failures_are_reported_and_exit_zero(demo: Sandbox) -> None:
    sick = "7d0a8c1e-0001-4a6b-9c1d-000000000002"
    demo.personio_state.put_absence_type({"id": sick, "name": "S" * 1001})  # too long for awork

    result = cli(*sync_args("--output", "json", "--today", TODAY.isoformat()), sandbox=demo)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["actions"]["created"], report["actions"]["failed"]) == (6, 1)
    (failure,) = report["failures"]
    assert failure["personioId"] == "3f1e0000-0000-4000-8000-000000000004"
    assert failure["email"] == "bob@acme.example"
    assert "validation-failed" in failure["reason"]


# --- sync, text ---------------------------------------------------------------------------


def test_sync_text_prints_the_report(demo: Sandbox) -> None:
    result = cli(*sync_args("--today", TODAY.isoformat()), sandbox=demo)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Window: 2026-07-07 .. 2027-01-17"
    assert lines[1] == "Users: 3 matched"
    assert "  only in Personio (2): dave@acme.example, erin@acme.example" in lines
    assert "  only in awork (1): frank@acme.example" in lines
    assert any("without a readable e-mail" in line for line in lines)
    assert (
        "Absences done: 7 created, 0 updated, 0 deleted, 0 unchanged, 3 skipped, 0 failed" in lines
    )
    assert (
        "  skipped because hour-based (spec.hourlyAbsences: Skip): 1; "
        "the person has no awork user: 2" in lines
    )
    assert lines[-2] == f"Owner key: {OWNER}"
    assert re.fullmatch(r"Took \d+\.\ds", lines[-1])


def test_r16_sync_text_dry_run_lists_the_plan(demo: Sandbox) -> None:
    result = cli(*sync_args("--dry-run", "--today", TODAY.isoformat()), sandbox=demo)

    assert result.returncode == 0, result.stderr
    assert "(dry run: nothing written)" in result.stdout.splitlines()[0]
    planned = [line for line in result.stdout.splitlines() if line.startswith("  would create")]
    assert len(planned) == 7
    assert awork_writes(demo) == []


# --- errors: one line on stderr, non-zero exit, nothing written ---------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def resource_with(tmp_path: Path, **spec: Any) -> Path:
    doc = yaml.safe_load(RESOURCE.read_text(encoding="utf-8"))
    doc["spec"] = {**doc["spec"], **spec}
    return write(tmp_path, "resource.yaml", yaml.safe_dump(doc))


@pytest.mark.parametrize("flag", ["--resource", "--secret"])
def test_ux_6_a_missing_file_is_its_own_error_naming_the_flag(
    demo: Sandbox, tmp_path: Path, flag: str
) -> None:
    missing = tmp_path / "nope.yaml"
    args = sync_args("--output", "json", **{flag.strip("-"): missing})  # type: ignore[arg-type]

    result = cli(*args, sandbox=demo)

    line = one_error_line(result, 2)
    assert line == f"personio-sync: {flag} {missing}: no such file"
    assert json.loads(result.stdout)["error"]["reason"] == "ManifestNotFound"
    assert demo.personio.journal.entries() == []


@pytest.mark.parametrize("output", ["json", "text"])
def test_r23_invalid_yaml(demo: Sandbox, tmp_path: Path, output: str) -> None:
    broken = write(tmp_path, "broken.yaml", "kind: PersonioSync\nspec: [unclosed\n  more: {\n")

    result = cli(*sync_args("--output", output, resource=broken), sandbox=demo)

    line = one_error_line(result, 2)
    assert "broken.yaml" in line and "not valid YAML" in line and "line" in line


def test_r23_invalid_spec_names_the_field(demo: Sandbox, tmp_path: Path) -> None:
    bad = resource_with(tmp_path, window={"pastDays": -1, "futureDays": 180})

    result = cli(*sync_args("--output", "json", resource=bad), sandbox=demo)

    line = one_error_line(result, 2)
    assert "spec.window.pastDays" in line
    assert awork_writes(demo) == [] and demo.personio.journal.entries() == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: Secret\napiVersion: v1\n", "exactly one PersonioSync manifest, found 0"),
        ("- just\n- a list\n", "must hold Kubernetes manifests"),
        (
            "apiVersion: v1\nkind: PersonioSync\nmetadata: {name: a}\nspec: {}\n",
            "apiVersion must be personio-sync.dev/v1alpha1",
        ),
        (
            "apiVersion: personio-sync.dev/v1alpha1\nkind: PersonioSync\nspec: {}\n",
            "metadata.name is required",
        ),
        (
            "apiVersion: personio-sync.dev/v1alpha1\nkind: PersonioSync\nmetadata: {name: a}\n"
            "spec: {}\n",
            "spec.secretRef",
        ),
    ],
    ids=["no-resource", "not-a-mapping", "api-version", "no-name", "no-secret-ref"],
)
def test_r23_unusable_resource_manifest(
    demo: Sandbox, tmp_path: Path, text: str, expected: str
) -> None:
    resource = write(tmp_path, "resource.yaml", text)

    line = one_error_line(cli(*sync_args("--output", "json", resource=resource), sandbox=demo), 2)

    assert expected in line


def test_r23_secret_data_not_base64(demo: Sandbox, tmp_path: Path) -> None:
    doc = yaml.safe_load(SECRET.read_text(encoding="utf-8"))
    doc["data"] = {"aworkApiKey": "not base64!"}
    del doc["stringData"]["aworkApiKey"]  # stringData would win, as on the API server
    secret = write(tmp_path, "secret.yaml", yaml.safe_dump(doc))

    line = one_error_line(cli(*sync_args("--output", "json", secret=secret), sandbox=demo), 2)

    assert "aworkApiKey" in line and "base64" in line and "not base64!" not in line


def test_r23_unknown_time_zone(demo: Sandbox, tmp_path: Path) -> None:
    bad = resource_with(tmp_path, timeZone="Europe/Atlantis")

    line = one_error_line(cli(*sync_args(resource=bad), sandbox=demo), 2)

    assert "spec.timeZone" in line and "Europe/Atlantis" in line


def test_r23_missing_secret_key(demo: Sandbox, tmp_path: Path) -> None:
    doc = yaml.safe_load(SECRET.read_text(encoding="utf-8"))
    del doc["stringData"]["aworkApiKey"]
    secret = write(tmp_path, "secret.yaml", yaml.safe_dump(doc))

    result = cli(*sync_args("--output", "json", secret=secret), sandbox=demo)

    line = one_error_line(result, 2)
    assert "aworkApiKey" in line and "acme-credentials" in line
    assert demo.personio.journal.entries() == [] and demo.awork.journal.entries() == []


def test_r23_missing_environment_credential(demo: Sandbox) -> None:
    env = environment(demo, PERSONIO_CLIENT_ID="demo-client", AWORK_API_KEY="demo-awork-key")

    result = cli(*sync_args("--output", "json", secret=None), env=env)

    line = one_error_line(result, 2)
    assert "PERSONIO_CLIENT_SECRET" in line


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("personioClientSecret", "PersonioCredentialsRejected"),
        ("aworkApiKey", "AworkCredentialsRejected"),
    ],
)
def test_r23_wrong_credentials(demo: Sandbox, tmp_path: Path, key: str, reason: str) -> None:
    doc = yaml.safe_load(SECRET.read_text(encoding="utf-8"))
    doc["stringData"][key] = "wrong-value"
    secret = write(tmp_path, "secret.yaml", yaml.safe_dump(doc))

    args = sync_args("--output", "json", "--today", TODAY.isoformat(), secret=secret)
    result = cli(*args, sandbox=demo)

    line = one_error_line(result, 1)
    assert line.startswith(f"personio-sync: {reason}: ") and key in line
    assert awork_writes(demo) == []


@pytest.mark.parametrize(
    ("variable", "reason", "named"),
    [
        ("PERSONIO_CLIENT_SECRET", "PersonioCredentialsRejected",
         "check the environment variables PERSONIO_CLIENT_ID and PERSONIO_CLIENT_SECRET"),
        ("AWORK_API_KEY", "AworkCredentialsRejected",
         "check the environment variable AWORK_API_KEY"),
    ],
)  # fmt: skip
def test_ux_5_a_rejected_credential_from_the_environment_names_the_variables(
    demo: Sandbox, variable: str, reason: str, named: str
) -> None:
    secrets = {"PERSONIO_CLIENT_ID": "demo-client", "PERSONIO_CLIENT_SECRET": "demo-secret",
               "AWORK_API_KEY": "demo-awork-key", variable: "wrong-value"}  # fmt: skip
    args = sync_args("--output", "json", "--today", TODAY.isoformat(), secret=None)

    line = one_error_line(cli(*args, env=environment(demo, **secrets)), 1)

    assert line.startswith(f"personio-sync: {reason}: ") and named in line
    assert "Secret" not in line


def test_ux_4_sync_help_names_the_url_variables_and_their_defaults() -> None:
    result = cli("sync", "--help", env=environment(None))

    assert result.returncode == 0, result.stderr
    for text in ("PERSONIO_API_URL", "https://api.personio.de", "AWORK_API_URL",
                 "https://api.awork.com/api/v1", "PERSONIO_SYNC_INSECURE_HTTP",
                 "PERSONIO_CLIENT_ID", "AWORK_API_KEY"):  # fmt: skip
        assert text in result.stdout, text


# --- the sandbox command ------------------------------------------------------------------


def test_sandbox_command_serves_a_seed_file_and_a_sync_runs_against_it(tmp_path: Path) -> None:
    seed = write(tmp_path, "company.json", json.dumps(generate_company(6, today=TODAY, seed=9)))
    command = [CLI, "sandbox", "--seed", str(seed)]
    with (
        interruptible(),
        subprocess.Popen(
            command,
            env=environment(None),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process,
    ):
        try:
            personio_url, awork_url = serving(read_banner(process))
            env = environment(
                None,
                PERSONIO_API_URL=personio_url,
                AWORK_API_URL=awork_url,
                PERSONIO_CLIENT_ID="sandbox-client",
                PERSONIO_CLIENT_SECRET="sandbox-secret",
                AWORK_API_KEY="sandbox-awork-key",
            )
            synced = cli(*sync_args("--output", "json", secret=None), env=env)
            assert synced.returncode == 0, synced.stderr
            assert json.loads(synced.stdout)["actions"]["failed"] == 0
        finally:
            process.send_signal(signal.SIGINT)  # "Press Ctrl+C to stop."
            try:
                _, stderr = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()  # never wait forever in the `with`'s exit
                raise
    assert process.returncode == 130 and "Traceback" not in stderr


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Children started inside get Ctrl+C as a terminal gives it. A shell without job
    control starts background commands with SIGINT ignored, and an ignored signal stays
    ignored across exec: run that way (as a CI runner may), the sandbox never saw the
    test's SIGINT and the test hung. The parent's handler is reset to SIG_DFL at exec."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def serving(banner: str) -> tuple[str, str]:
    """The URLs the banner names, after checking that both fakes answer with its credentials."""
    personio = re.search(r"Personio \(fake\): (\S+)", banner)
    awork = re.search(r"awork \(fake\):\s+(\S+)", banner)
    assert personio and awork, banner
    assert "client id: sandbox-client" in banner and "API key: sandbox-awork-key" in banner
    form = {"grant_type": "client_credentials", "client_id": "sandbox-client"}
    token = httpx.post(
        personio[1] + "/v2/auth/token", data=form | {"client_secret": "sandbox-secret"}
    )
    assert token.status_code == 200 and token.json()["access_token"]
    users = httpx.get(awork[1] + "/users", headers={"Authorization": "Bearer sandbox-awork-key"})
    assert users.status_code == 200 and len(users.json()) >= 6
    return personio[1], awork[1]


def read_banner(process: subprocess.Popen[str]) -> str:
    """Lines up to the sandbox's 'Press Ctrl+C' (readline blocks: the subprocess's own
    start-up is the deadline, enforced by pytest-timeout)."""
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("Press Ctrl+C"):
        line = process.stdout.readline()
        if not line:
            raise AssertionError("the sandbox exited before printing its banner")
        lines.append(line.rstrip("\n"))
    return "\n".join(lines)

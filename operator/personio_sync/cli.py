"""The `personio-sync` command: `sync` (one run), `sandbox` (fake APIs), `run` (the operator)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import date

from personio_sync import __version__
from personio_sync.credentials import credentials_from_env, credentials_from_secret
from personio_sync.engine.marker import keys_to_adopt, owner_key
from personio_sync.engine.report import SyncReport
from personio_sync.errors import ConfigError, SyncError
from personio_sync.manifests import load_resource, load_secret
from personio_sync.progress_line import ProgressPrinter
from personio_sync.report_json import error_json, json_report
from personio_sync.report_text import render_text
from personio_sync.runner import DEFAULT_AWORK_URL, DEFAULT_PERSONIO_URL, Endpoints, run_sync
from personio_sync.settings import plain_http_problem

CLI_INSTANCE = "cli"
HELD_EXIT = 3  # the run completed but held deletions back (D-Guard)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="personio-sync", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sync = sub.add_parser("sync", help="run one sync from a PersonioSync manifest")
    sync.add_argument("--resource", required=True, help="PersonioSync manifest (YAML)")
    sync.add_argument("--secret", help="Secret manifest; else PERSONIO_CLIENT_ID, … from env")
    sync.add_argument("--today", type=date.fromisoformat, help="YYYY-MM-DD (default: now)")
    sync.add_argument("--dry-run", action="store_true", help="plan and report, write nothing")
    sync.add_argument("--output", choices=("text", "json"), default="text")
    sync.add_argument(
        "--instance-id",
        default=CLI_INSTANCE,
        help="part of the owner key (default %(default)s): the operator's absences are "
        "another owner's, so a copy of its manifest conflicts instead of duplicating",
    )
    sync.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="delete even when more absences left Personio than the deletion guard allows",
    )

    sandbox = sub.add_parser("sandbox", help="serve fake Personio and awork APIs on 127.0.0.1")
    sandbox.add_argument("--seed", help="seed file (YAML/JSON); default: the demo company")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--personio-port", type=int, default=0)
    sandbox.add_argument("--awork-port", type=int, default=0)
    sandbox.add_argument("--latency-ms", type=float, default=0.0)
    sandbox.add_argument("--rate-limits", action="store_true", help="enforce vendor limits")
    sandbox.add_argument("--time-scale", type=float, default=1.0, help="a minute lasts 60/x s")

    run = sub.add_parser("run", help="run the Kubernetes operator")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("--namespace", "-n", action="append", default=[], help="repeatable")
    scope.add_argument("--all-namespaces", "-A", action="store_true")
    run.add_argument(
        "--peering",
        help="name of the Lease the replicas elect their leader through "
        "(default personio-sync, in $POD_NAMESPACE)",
    )
    run.add_argument(
        "--standalone", action="store_true", help="no leader election: this process syncs"
    )
    return parser


def _endpoints() -> Endpoints:
    """The vendor URLs from the environment, https only unless allowed (as the operator)."""
    endpoints = Endpoints(
        personio_url=os.environ.get("PERSONIO_API_URL") or DEFAULT_PERSONIO_URL,
        awork_url=os.environ.get("AWORK_API_URL") or DEFAULT_AWORK_URL,
    )
    allowed = os.environ.get("PERSONIO_SYNC_INSECURE_HTTP", "").lower() in ("1", "true", "yes")
    for name, url in (("PERSONIO_API_URL", endpoints.personio_url),
                      ("AWORK_API_URL", endpoints.awork_url)):  # fmt: skip
        problem = plain_http_problem(url, allowed=allowed)
        if problem:
            raise ConfigError(f"{name}: {problem}")
    return endpoints


def _sync(args: argparse.Namespace) -> int:
    resource = load_resource(args.resource)
    spec = resource.spec.model_copy(update={"dryRun": True}) if args.dry_run else resource.spec
    creds = (
        credentials_from_secret(load_secret(args.secret))
        if args.secret
        else credentials_from_env(os.environ)
    )
    printer = ProgressPrinter(sys.stderr) if args.output == "text" else None
    owner = owner_key(resource.namespace, resource.name, args.instance_id)
    report: SyncReport = asyncio.run(
        run_sync(
            spec,
            creds,
            owner_key=owner,
            adopt_from=keys_to_adopt(resource.namespace, resource.name, owner, spec.adoptFrom),
            endpoints=_endpoints(),
            today=args.today,
            progress=printer.update if printer else None,
            allow_mass_delete=args.allow_mass_delete,
        )
    )
    if printer:
        printer.finish()
    if args.output == "json":
        print(json.dumps(json_report(report), indent=2))
    else:
        print(render_text(report))
    return HELD_EXIT if report.held is not None else 0


def _sandbox(args: argparse.Namespace) -> int:
    from personio_sync.fakes.sandbox import serve_sandbox

    asyncio.run(
        serve_sandbox(
            args.seed,
            host=args.host,
            personio_port=args.personio_port,
            awork_port=args.awork_port,
            latency_ms=args.latency_ms,
            rate_limits=args.rate_limits,
            time_scale=args.time_scale,
        )
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from personio_sync.controller.main import run_operator

    return run_operator(
        namespaces=args.namespace or None,
        all_namespaces=args.all_namespaces,
        peering=args.peering,
        standalone=args.standalone,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = {"sync": _sync, "sandbox": _sandbox, "run": _run}[args.command]
    try:
        return command(args)
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:
        return _failed(args, exc, f"personio-sync: {exc.message}", 2)
    except SyncError as exc:
        return _failed(args, exc, f"personio-sync: {exc.reason}: {exc.message}", 1)


def _failed(args: argparse.Namespace, error: SyncError, line: str, code: int) -> int:
    """One line on stderr; in JSON mode also the error as JSON on stdout, for scripts."""
    if getattr(args, "output", "text") == "json":
        print(json.dumps(error_json(error, code)))
    print(line, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

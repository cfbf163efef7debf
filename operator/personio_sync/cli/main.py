"""The `personio-sync` command: `sync` (one run) and `run` (the operator), plus the
commands other installed distributions add (personio-sync-testing adds `sandbox`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from importlib.metadata import entry_points
from typing import Protocol, TypeVar, cast

from personio_sync import __version__
from personio_sync.cli.endpoints import ENVIRONMENT_HELP, endpoints_from
from personio_sync.cli.progress_line import ProgressPrinter
from personio_sync.cli.report_json import error_json, json_report
from personio_sync.cli.report_text import render_text
from personio_sync.engine.marker import keys_to_adopt, owner_key
from personio_sync.engine.report import SyncReport
from personio_sync.errors import ConfigError, ManifestNotFound, SyncError
from personio_sync.resource.manifests import load_resource, load_secret
from personio_sync.resource.spec_policy import policy_of
from personio_sync.sync.credentials import credentials_from_env, credentials_from_secret
from personio_sync.sync.runner import run_sync

PLUGIN_GROUP = "personio_sync.commands"  # entry points: more subcommands
CLI_INSTANCE = "cli"
HELD_EXIT = 3  # the run completed but held deletions back (D-Guard)
T = TypeVar("T")


class Command(Protocol):
    """A subcommand another distribution adds (a module named by an entry point)."""

    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def plugins() -> dict[str, Command]:
    """The commands of installed distributions, by name (not the product's business what
    they are: the image installs none)."""
    return {ep.name: cast(Command, ep.load()) for ep in entry_points(group=PLUGIN_GROUP)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="personio-sync", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sync = sub.add_parser(
        "sync",
        help="run one sync from a PersonioSync manifest",
        description="Run one sync from a PersonioSync manifest, against the vendors' real\n"
        "APIs unless PERSONIO_API_URL / AWORK_API_URL point elsewhere.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    for name, plugin in plugins().items():
        plugin.add_arguments(sub.add_parser(name, help=plugin.HELP))
    return parser


def _manifest(flag: str, path: str, load: Callable[[str], T]) -> T:
    """A missing file named with the flag that named it (UX-6)."""
    try:
        return load(path)
    except ManifestNotFound as exc:
        raise ManifestNotFound(f"{flag} {exc.message}") from None


def _sync(args: argparse.Namespace) -> int:
    resource = _manifest("--resource", args.resource, load_resource)
    spec = resource.spec.model_copy(update={"dryRun": True}) if args.dry_run else resource.spec
    creds = (
        credentials_from_secret(_manifest("--secret", args.secret, load_secret))
        if args.secret
        else credentials_from_env(os.environ)
    )
    endpoints, talking_to = endpoints_from(os.environ)
    print(f"personio-sync: {talking_to}", file=sys.stderr, flush=True)
    printer = ProgressPrinter(sys.stderr) if args.output == "text" else None
    owner = owner_key(resource.namespace, resource.name, args.instance_id)
    report: SyncReport = asyncio.run(
        run_sync(
            policy_of(spec),
            creds,
            owner_key=owner,
            adopt_from=keys_to_adopt(resource.namespace, resource.name, owner, spec.adoptFrom),
            endpoints=endpoints,
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


def _run(args: argparse.Namespace) -> int:
    from personio_sync.controller.startup.main import run_operator

    return run_operator(
        namespaces=args.namespace or None,
        all_namespaces=args.all_namespaces,
        peering=args.peering,
        standalone=args.standalone,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"sync": _sync, "run": _run}
    commands.update({name: plugin.run for name, plugin in plugins().items()})
    command = commands[args.command]
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

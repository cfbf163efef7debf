"""`personio-sync sandbox`: both fakes in the foreground, for the demo and by hand.

Added to the `personio-sync` command through the `personio_sync.commands` entry point
of this distribution, so the command exists wherever the fakes are installed and
nowhere else (not in the image).
"""

from __future__ import annotations

import argparse
import asyncio

from personio_sync_testing.fakes.sandbox import serve_sandbox

HELP = "serve fake Personio and awork APIs on 127.0.0.1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", help="seed file (YAML/JSON); default: the demo company")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--personio-port", type=int, default=0)
    parser.add_argument("--awork-port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limits", action="store_true", help="enforce vendor limits")
    parser.add_argument("--time-scale", type=float, default=1.0, help="a minute lasts 60/x s")


def run(args: argparse.Namespace) -> int:
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

"""`python -m personio_sync.controller [NAMESPACE ...]`: the operator without the CLI."""

from __future__ import annotations

import argparse
import sys

from personio_sync.controller.main import run_operator


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m personio_sync.controller")
    parser.add_argument("namespaces", nargs="*", help="namespaces to watch (default: all)")
    parser.add_argument("--peering", help="name of the leader Lease (several replicas)")
    parser.add_argument("--standalone", action="store_true", help="no leader election")
    parser.add_argument("--liveness", help="kopf liveness endpoint, e.g. http://0.0.0.0:8081/")
    args = parser.parse_args()
    return run_operator(
        args.namespaces or None,
        not args.namespaces,
        peering=args.peering,
        standalone=args.standalone,
        liveness=args.liveness,
    )


if __name__ == "__main__":
    sys.exit(main())

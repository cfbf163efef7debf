"""Benchmark: what one acquire and one release of a run slot cost with N runs waiting.

A burst: every slot is held, N runs of mixed priorities over 10 namespaces ask for one
(each acquire admits), then the holders finish and the waiters run one after another
(each release admits the next). Printed: microseconds per acquire and per release,
for the heaps (`loop/admission.py`) and, when git can show it, for the slots as they
were on `main` before them (sorting and walking every waiter at each call: O(N²) for
the burst). Figures, not a test: `python bench/slots_bench.py [--sizes 1000 10000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from personio_sync.controller.loop import slots as current

OLD_REF = "main:operator/personio_sync/controller/loop/slots.py"
SLOTS, NAMESPACES = 4, 10


def old_module(ref: str) -> types.ModuleType | None:
    """The slots module at `ref` (self-contained then), or None without git or that ref."""
    root = Path(__file__).resolve().parent.parent
    try:
        source = subprocess.run(
            ["git", "show", ref], cwd=root, check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    if "heapq" in source or "admission" in source:
        return None  # that ref already has the heaps: nothing to compare
    module = types.ModuleType("old_slots")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, ref, "exec"), module.__dict__)
    return module


def waiting(slots: Any) -> int:
    found = getattr(slots, "waiting", None)
    return found if isinstance(found, int) else len(slots._waiting)


async def steps_until(check: Callable[[], bool]) -> None:
    """Let the other tasks run, one loop step at a time, until `check` holds."""
    for _ in itertools.count():
        if check():
            return
        await asyncio.sleep(0)


async def burst(module: Any, n: int, seed: int = 1) -> tuple[float, float]:
    """Seconds per acquire and per release with up to `n` waiters."""
    priority = module.Priority
    slots = module.FairSlots(SLOTS)  # FAIR-5's default: two per namespace
    rng = random.Random(seed)
    gate = asyncio.Event()

    async def hold(namespace: str) -> None:
        async with slots.slot(priority.QUICK, namespace):
            await gate.wait()

    async def run(p: Any, namespace: str) -> None:
        async with slots.slot(p, namespace):
            pass

    holders = [asyncio.create_task(hold(f"holders{i % 2}")) for i in range(SLOTS)]
    await steps_until(lambda: slots.in_use == SLOTS)
    kinds = list(priority)
    tasks = [
        asyncio.create_task(run(rng.choice(kinds), f"ns{rng.randrange(NAMESPACES)}"))
        for _ in range(n)
    ]
    started = time.perf_counter()
    await steps_until(lambda: waiting(slots) == n)
    acquired = time.perf_counter()
    gate.set()
    await asyncio.gather(*holders, *tasks)
    drained = time.perf_counter()
    assert slots.in_use == 0 and waiting(slots) == 0
    return (acquired - started) / n, (drained - acquired) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--old-ref", default=OLD_REF, help="git ref:path of the old slots.py")
    args = parser.parse_args()
    versions: list[tuple[str, Any]] = [("heaps (now)", current)]
    old = old_module(args.old_ref)
    if old is None:
        print(f"(no sort-and-walk version at {args.old_ref}: only the heaps are measured)")
    else:
        versions.append(("sort and walk (main)", old))
    print(f"{SLOTS} slots, {NAMESPACES} namespaces, mixed priorities; µs per call")
    print(f"{'version':<22} {'N':>7} {'acquire':>10} {'release':>10}")
    for n in args.sizes:
        for label, module in versions:
            acquire, release = asyncio.run(burst(module, n))
            print(f"{label:<22} {n:>7} {acquire * 1e6:>10.1f} {release * 1e6:>10.1f}")


if __name__ == "__main__":
    main()

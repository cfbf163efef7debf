"""The slow-loris attacker of test_receiver_under_attack.py, in its own process (as the
internet is): argv `port count seconds`. Each of `count` connections sends its headers
one byte a second and never finishes them; cut off by the receiver, it connects again a
few seconds later, as the tools do. It prints `connected` once all are open, then one
JSON line with what it saw when `seconds` are over."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
from dataclasses import dataclass

PATH = "/webhooks/personio/hr/acme"
DRIP = (f"POST {PATH} HTTP/1.1\r\nHost: hooks.example\r\nUser-Agent: " + "x" * 4000).encode()


@dataclass
class Attack:
    count: int  # connections to hold
    connections: int = 0  # opened, reconnections included
    cut: int = 0  # closed by the receiver

    def __post_init__(self) -> None:
        self.all_open = asyncio.Event()

    def opened(self) -> None:
        self.connections += 1
        if self.connections >= self.count:
            self.all_open.set()


async def drip(port: int, stop: asyncio.Event, attack: Attack, pause: float) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(pause)
            continue
        attack.opened()
        try:
            for i in range(len(DRIP)):
                writer.write(DRIP[i : i + 1])
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):  # EOF: the receiver closed it
                        if not await reader.read(1024):
                            raise ConnectionResetError
                if stop.is_set():
                    break
        except OSError:
            attack.cut += 1
            await asyncio.sleep(pause)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def main(port: int, count: int, seconds: float) -> None:
    stop, attack = asyncio.Event(), Attack(count)
    pauses = random.Random(9).choices(range(2, 9), k=count)  # waves, not lockstep
    tasks = [asyncio.create_task(drip(port, stop, attack, p)) for p in pauses]
    await attack.all_open.wait()
    print("connected", flush=True)
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"connections": attack.connections, "cut": attack.cut}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))

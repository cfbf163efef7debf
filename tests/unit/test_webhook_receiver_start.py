"""HOOK-15: the webhook receiver is started only when webhooks are on (a base URL is set):
off, no port is bound, over a real socket."""

from __future__ import annotations

import socket
from typing import Any, cast

import pytest
from controller_fakes import Kube, make_context

from personio_sync.controller.loop.supervisor import Supervisor
from personio_sync.controller.startup.handlers import start_receiver
from personio_sync.controller.webhooks.recorder import EventRecorder


class _Supervisor:
    def __init__(self) -> None:
        self.forget: list[Any] = []  # where the receiver adds its own (FAIR-8)

    def secret_of(self, namespace: str, name: str) -> str | None:
        return None

    def note_changes(self, namespace: str, name: str, changes: Any) -> bool:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("base", ["", "https://hooks.example.com/webhooks/personio"])
async def test_hook_15_the_receiver_listens_only_with_a_base_url(base: str) -> None:
    port = _free_port()
    ctx = make_context(Kube(), http_host="127.0.0.1", webhook_port=port, webhook_base_url=base)
    recorder = EventRecorder(ctx.writes, ctx.last_events)
    receiver = await start_receiver(ctx, cast(Supervisor, _Supervisor()), recorder)
    try:
        assert (receiver is not None) is bool(base)
        assert _listening(port) is bool(base)
    finally:
        if receiver is not None:
            await receiver.stop()
        await recorder.stop()
    assert not _listening(port)

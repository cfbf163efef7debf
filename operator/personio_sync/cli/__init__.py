"""The `personio-sync` command (layer 6, the top)."""

from personio_sync.cli.main import main

__all__ = ["main"]

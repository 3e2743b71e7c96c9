"""The parent's side of a fake platform run in a child process (bench/telegram.py, discord.py).

The fake's work (encoding updates, answering API calls) is not Steward's, so it runs in another
process and takes commands over a pipe.
"""

from __future__ import annotations

import asyncio
from multiprocessing.connection import Connection
from typing import Any


class Remote:
    """The parent's handle on the child: each command's answer is awaited off the event loop."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def ask(self, command: str, count: int = 0) -> Any:
        self.conn.send((command, count))
        return await asyncio.to_thread(self.conn.recv)

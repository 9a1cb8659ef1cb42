"""CAP010: agent state handed to code that runs concurrently with the agent."""

import asyncio
import threading

import anyio.to_thread

from capsys import Agent, behaviour


class Saver(Agent):
    def __init__(self) -> None:
        self.rows: list[str] = []

    def flush(self) -> None:
        self.rows.clear()

    @behaviour
    def save(self) -> None:
        threading.Thread(target=self.flush).start()  # expect: CAP010

    @behaviour
    async def save_later(self) -> None:
        await anyio.to_thread.run_sync(self.rows.clear)  # expect: CAP010

    @behaviour
    async def save_in_executor(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: self.rows.append("x"))  # expect: CAP010

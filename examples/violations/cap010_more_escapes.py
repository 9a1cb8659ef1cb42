"""CAP010, more ways agent state reaches concurrent code: tasks, task groups, executors."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import anyio

from capsys import Agent, behaviour


class Crawler(Agent):
    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.tasks: list[asyncio.Task[None]] = []

    async def fetch(self, url: str) -> None:
        self.seen.add(url)

    def index(self, url: str) -> None:
        self.seen.discard(url)

    @behaviour
    async def crawl(self, url: str) -> None:
        self.tasks.append(asyncio.create_task(self.fetch(url)))  # expect: CAP010
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.fetch, url)  # expect: CAP010

    @behaviour
    def reindex(self, url: str) -> None:
        with ThreadPoolExecutor() as pool:
            pool.submit(self.index, url)  # expect: CAP010

        def forget() -> None:
            self.seen.clear()

        threading.Timer(1.0, forget).start()  # expect: CAP010

    @behaviour
    async def report(self, url: str) -> int:
        snapshot = frozenset(self.seen)
        await anyio.to_thread.run_sync(print, snapshot)  # an immutable copy: fine
        self.me.send(Crawler.reindex, url)
        return len(snapshot)

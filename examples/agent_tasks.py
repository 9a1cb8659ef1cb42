"""A distributor sends tasks round-robin to worker agents that update their status and
count their work; leaving the runtime drains every mailbox, so no task is lost.

Run: python examples/agent_tasks.py [TASKS] [WORKERS]
"""

from __future__ import annotations

import sys
import zlib

import anyio

from capsys import Agent, Tag, behaviour, message
from runtime import Runtime


@message
class Task:
    number: int
    payload: bytes


@message
class Status:
    worker: int
    state: str
    handled: int
    checksum: int


class Tally(Agent):
    """Counts completed tasks; reports at shutdown, after every mailbox was drained."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.completed: set[int] = set()

    @behaviour
    def completed_task(self, worker: int, number: int) -> None:
        self.completed.add(number)

    @behaviour
    def count(self) -> int:
        return len(self.completed)

    def on_stop(self) -> None:
        lost = self.expected - len(self.completed)
        print(f"tally: {len(self.completed)} of {self.expected} tasks completed, {lost} lost")


class Worker(Agent):
    def __init__(self, number: int, tally: Tag[Tally]) -> None:
        self.number = number
        self.tally = tally
        self.state = "idle"
        self.handled = 0
        self.checksum = 0

    @behaviour
    def work(self, task: Task) -> None:
        self.state = f"working on task {task.number}"
        self.checksum = zlib.crc32(task.payload, self.checksum)  # the "work"
        self.handled += 1
        self.state = "idle"
        self.tally.send(Tally.completed_task, self.number, task.number)

    @behaviour
    def status(self) -> Status:
        return Status(self.number, self.state, self.handled, self.checksum)


class Distributor(Agent):
    def __init__(self, workers: tuple[Tag[Worker], ...]) -> None:
        self.workers = workers
        self.turn = 0

    @behaviour
    def submit(self, task: Task) -> None:
        worker = self.workers[self.turn % len(self.workers)]
        self.turn += 1
        worker.send(Worker.work, task)


async def main(tasks: int = 20_000, workers: int = 8) -> None:
    async with Runtime() as rt:
        tally = rt.spawn(Tally, tasks)
        pool = tuple(rt.spawn(Worker, n, tally) for n in range(workers))
        distributor = rt.spawn(Distributor, pool)
        for number in range(tasks):
            # send_wait: an outside caller waits while the mailbox is above high water.
            await distributor.send_wait(Distributor.submit, Task(number, b"job %d" % number))
        statuses = [await worker.ask(Worker.status) for worker in pool]
        for s in statuses:
            print(f"worker {s.worker}: {s.state}, {s.handled} handled so far")
    # Leaving `async with` handled every message already sent, then called on_stop.
    print("runtime stopped; dead letters:", rt.dead_letters.count)


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:3]]
    anyio.run(lambda: main(*numbers))

"""CAP001: mutable values cross agent boundaries and stay shared with the sender."""

from capsys import Agent, Tag, behaviour
from runtime import Runtime


class Log(Agent):
    def __init__(self, seed: list[str]) -> None:  # expect: CAP002
        self.lines = seed

    @behaviour
    def add(self, lines: list[str]) -> None:  # expect: CAP002
        self.lines.extend(lines)

    @behaviour
    def snapshot(self) -> list[str]:  # expect: CAP002
        return self.lines


def feed(log: Tag[Log]) -> None:
    lines = ["a", "b"]
    log.send(Log.add, lines)  # expect: CAP001
    log.send(Log.add, lines=["c"])  # expect: CAP001


async def main() -> None:
    async with Runtime() as rt:
        log = rt.spawn(Log, ["boot"])  # expect: CAP001
        feed(log)
        seen = await log.ask(Log.snapshot)  # expect: CAP001
        print(seen)

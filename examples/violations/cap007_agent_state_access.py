"""CAP007: agent state reached around its Tag."""

from capsys import Agent, behaviour
from runtime import Runtime


class Counter(Agent):
    def __init__(self) -> None:
        self.n = 0

    @behaviour
    def inc(self) -> None:
        self.n += 1


counter = Counter()  # expect: CAP007


async def main() -> None:
    async with Runtime() as rt:
        tag = rt.spawn(Counter)
        tag.send(Counter.inc)
        print(tag.n)  # expect: CAP007

"""CAP008: the agent object itself leaves the agent; send self.me (its Tag) instead."""

from __future__ import annotations

from capsys import Agent, Tag, behaviour, message


@message
class Hello:
    sender: Tag[Worker]


class Helper(Agent):
    def __init__(self, parent: Tag[Worker]) -> None:
        self.parent = parent


class Boss(Agent):
    @behaviour
    def register(self, worker: Tag[Worker]) -> None:
        pass

    @behaviour
    def greet(self, hello: Hello) -> None:
        pass


class Worker(Agent):
    @behaviour
    def hello(self, boss: Tag[Boss]) -> None:
        boss.send(Boss.register, self)  # type: ignore[arg-type]  # expect: CAP008
        boss.send(Boss.greet, Hello(self))  # type: ignore[arg-type]  # expect: CAP008
        self.runtime.spawn(Helper, self)  # type: ignore[arg-type]  # expect: CAP008
        boss.send(Boss.register, self.me)

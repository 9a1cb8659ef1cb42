"""CAP006: an Iso aliased without consume(), or iso() of a value others can still reach."""

from capsys import Agent, Iso, Tag, behaviour, iso

BUFFER: list[int] = []


class Sink(Agent):
    @behaviour
    def put(self, data: Iso[list[int]]) -> None:
        data.take().clear()


class Keeper(Agent):
    def __init__(self) -> None:
        self.items: list[int] = []

    @behaviour
    def hand_over(self, sink: Tag[Sink]) -> None:
        sink.send(Sink.put, iso(self.items))  # expect: CAP006


def alias(sink: Tag[Sink]) -> None:
    data = iso([1, 2])
    other = data  # expect: CAP006
    sink.send(Sink.put, other)


def aliased_local() -> Iso[list[int]]:
    items = [1, 2]
    alias = items
    handle = iso(items)  # expect: CAP006
    alias.append(3)
    return handle


def from_parameter(items: list[int]) -> Iso[list[int]]:
    return iso(items)  # expect: CAP006


def from_global() -> Iso[list[int]]:
    return iso(BUFFER)  # expect: CAP006

"""CAP005: an Iso handle (or a local given to iso()) used after it was moved."""

from capsys import Agent, Iso, Tag, behaviour, iso


class Sink(Agent):
    @behaviour
    def put(self, data: Iso[list[int]]) -> None:
        data.take().clear()


def straight(sink: Tag[Sink]) -> None:
    data = iso([1, 2])
    sink.send(Sink.put, data)
    print(data.take())  # expect: CAP005


def one_branch(sink: Tag[Sink], flag: bool) -> None:
    data = iso([1])
    if flag:
        sink.send(Sink.put, data)
    print(data.take())  # expect: CAP005


def in_loop(sink: Tag[Sink]) -> None:
    data = iso([1])
    for _ in range(3):
        sink.send(Sink.put, data)  # expect: CAP005


def plain_local(sink: Tag[Sink]) -> None:
    items = [1, 2]
    handle = iso(items)
    items.append(3)  # expect: CAP005
    sink.send(Sink.put, handle)

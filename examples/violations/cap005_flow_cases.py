"""CAP005, the harder flow cases: loops, try/finally, match, comprehensions, closures."""

from capsys import Agent, Iso, Tag, behaviour, consume, iso


class Sink(Agent):
    @behaviour
    def put(self, data: Iso[list[int]]) -> None:
        data.take().clear()


def while_else(sink: Tag[Sink], n: int) -> None:
    data = iso([1])
    while n > 0:
        n -= 1
        if n == 3:
            sink.send(Sink.put, data)
            break
    else:
        print(data)  # moved only on the breaking path: fine here
    print(data)  # expect: CAP005


def finally_block(sink: Tag[Sink]) -> None:
    data = iso([1])
    try:
        sink.send(Sink.put, data)
    finally:
        print(data)  # expect: CAP005


def match_arm(sink: Tag[Sink], command: str) -> None:
    data = iso([1])
    match command:
        case "send":
            sink.send(Sink.put, data)
        case _:
            pass
    print(data)  # expect: CAP005


def comprehension(sinks: list[Tag[Sink]]) -> None:
    data = iso([1])
    handles = [consume(data) for _ in sinks]  # expect: CAP005
    for sink, handle in zip(sinks, handles):
        sink.send(Sink.put, handle)


def closure(sink: Tag[Sink]) -> list[int]:
    data = iso([1])
    sink.send(Sink.put, data)

    def later() -> list[int]:
        return data.take()  # expect: CAP005

    return later()


async def awaited(sink: Tag[Sink]) -> None:
    data = iso([1])
    await sink.send_wait(Sink.put, data)
    print(data)  # expect: CAP005


def fine(sink: Tag[Sink], flag: bool) -> None:
    data = iso([1])
    if flag:
        sink.send(Sink.put, data)
        return
    kept = consume(data)
    data = iso([2])
    sink.send(Sink.put, data)
    sink.send(Sink.put, kept)

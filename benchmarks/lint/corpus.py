"""A generated capsys-heavy corpus: a few hundred agent modules that import each other.

Each module has messages, an enum, a frozen record, two agents with sync and async
behaviours, sends, asks, spawns, Iso moves through branches and loops, and ordinary
helper code around them: what the linter meets in a real project, and clean (so the
benchmark measures checking, not reporting).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

__all__ = ["write_corpus"]


def _module(i: int) -> str:
    prev = f"from corpus.m{i - 1:03d} import Reading{i - 1}, Sensor{i - 1}\n" if i else ""
    link = (
        f"""
    @behaviour
    def relay(self, peer: Tag[Sensor{i - 1}], reading: Reading{i - 1}) -> None:
        peer.send(Sensor{i - 1}.record, reading)
"""
        if i
        else ""
    )
    return textwrap.dedent(
        f'''
    """Generated module {i}: a small sensor pipeline."""

    from __future__ import annotations

    import enum
    import math
    from dataclasses import dataclass

    import anyio

    from capsys import Agent, Iso, Tag, Val, behaviour, consume, iso, message, val
    from runtime import Runtime
    {prev}

    class Unit{i}(enum.Enum):
        C = "C"
        F = "F"


    @dataclass(frozen=True)
    class Window{i}:
        start: float
        end: float


    @message
    class Reading{i}:
        sensor: str
        value: float
        unit: Unit{i}
        window: Window{i}
        tags: frozenset[str] = frozenset()


    @message
    class Batch{i}:
        readings: tuple[Reading{i}, ...]
        source: Tag[Sensor{i}] | None = None


    def mean{i}(values: tuple[float, ...]) -> float:
        total = 0.0
        for v in values:
            total += v
        return total / len(values) if values else math.nan


    def convert{i}(value: float, unit: Unit{i}) -> float:
        if unit is Unit{i}.F:
            return (value - 32.0) * 5.0 / 9.0
        return value


    class Sensor{i}(Agent):
        def __init__(self, name: str, sink: Tag[Store{i}]) -> None:
            self.name = name
            self.sink = sink
            self.buffer: list[Reading{i}] = []
            self.count = 0

        @behaviour
        def record(self, reading: Reading{i}) -> None:
            self.buffer.append(reading)
            self.count += 1
            if len(self.buffer) >= 10:
                self.flush()

        def flush(self) -> None:
            batch = iso(list(self.buffer))
            self.buffer.clear()
            self.sink.send(Store{i}.store, batch)

        @behaviour
        async def sample(self, rounds: int) -> int:
            seen = 0
            for r in range(rounds):
                await anyio.sleep(0)
                reading = Reading{i}(self.name, float(r), Unit{i}.C, Window{i}(0.0, 1.0))
                self.record(reading)
                seen += 1
            return seen
    {link}

    class Store{i}(Agent):
        def __init__(self) -> None:
            self.rows: list[Reading{i}] = []
            self.limits: Val[tuple[float, ...]] = val((0.0, 100.0))

        @behaviour
        def store(self, batch: Iso[list[Reading{i}]]) -> None:
            items = batch.take()
            self.rows.extend(items)

        @behaviour
        def mean(self) -> float:
            return mean{i}(tuple(convert{i}(r.value, r.unit) for r in self.rows))

        @behaviour
        async def summary(self, peer: Tag[Store{i}]) -> Batch{i}:
            total = await peer.ask(Store{i}.mean)
            rows = tuple(r for r in self.rows if r.value <= total)
            return Batch{i}(rows)


    async def run{i}(flag: bool) -> float:
        async with Runtime() as rt:
            store = rt.spawn(Store{i})
            sensor = rt.spawn(Sensor{i}, "s{i}", store)
            data = iso([Reading{i}("x", 1.0, Unit{i}.C, Window{i}(0.0, 1.0))])
            if flag:
                store.send(Store{i}.store, data)
            else:
                other = consume(data)
                store.send(Store{i}.store, other)
            await sensor.ask(Sensor{i}.sample, 3)
            return await store.ask(Store{i}.mean)
    '''
    )


def write_corpus(root: Path, modules: int) -> list[Path]:
    """Write the corpus under ``root/corpus``; returns the module paths."""
    package = root / "corpus"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""Generated corpus."""\n')
    paths = []
    for i in range(modules):
        path = package / f"m{i:03d}.py"
        path.write_text(_module(i))
        paths.append(path)
    return paths

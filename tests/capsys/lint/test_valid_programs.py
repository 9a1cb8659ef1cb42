"""Valid programs give no findings: the SPEC §3 example and every program in examples/."""

from __future__ import annotations

from pathlib import Path

import pytest

from capsys.config import Config
from capsys.lint.engine import lint_source
from capsys.lint.index import ProjectIndex

from .helpers import lint_code

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py"))

SPEC_EXAMPLE = """
from capsys import Agent, behaviour, message, Iso, Val, Ref, Tag, iso, val, consume
from runtime import Runtime

@message                         # frozen, slotted dataclass; every field must be sendable
class Order:
    symbol: str
    qty: int

class Desk(Agent):
    @behaviour
    def notify(self, order: Order) -> None:
        pass

class Book(Agent):               # agent state is private: any types, never shared
    def __init__(self, owner: Tag["Desk"]) -> None:   # __init__ params are a boundary
        self.owner = owner
        self.orders: list[Order] = []

    @behaviour                   # an entry point: params must be sendable
    def add(self, order: Order) -> None:
        self.orders.append(order)
        self.owner.send(Desk.notify, order)

    @behaviour
    async def bulk(self, batch: Iso[list[Order]]) -> int:   # async behaviours may await I/O
        items = batch.take()     # the receiver now owns the list
        self.orders.extend(items)
        return len(self.orders)  # the reply of an ask must be sendable too

async def main() -> None:
    async with Runtime() as rt:
        desk = rt.spawn(Desk)
        book = rt.spawn(Book, desk)                 # -> Tag[Book]
        book.send(Book.add, Order("AAPL", 10))      # fire-and-forget
        n = await book.ask(Book.bulk, iso([Order("MSFT", 5)]))   # request-reply
        frozen: Val[tuple[int, ...]] = val((1, 2))
        print(n, frozen)
"""


def test_spec_example_is_clean(tmp_path: Path) -> None:
    assert lint_code(SPEC_EXAMPLE, tmp_path) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_are_clean(path: Path) -> None:
    config = Config(root=ROOT)
    result = lint_source(path, path.read_bytes(), config, ProjectIndex([ROOT]), path.name)
    assert result.error is None
    assert [d.text() for d in result.diagnostics] == []


def test_the_project_itself_is_clean() -> None:
    """capsys, runtime and mypy_plugin implement Tags and agents: no false positives."""
    index = ProjectIndex([ROOT])
    config = Config(root=ROOT)
    findings = []
    for package in ("capsys", "runtime", "mypy_plugin"):
        for path in sorted((ROOT / package).rglob("*.py")):
            result = lint_source(path, path.read_bytes(), config, index, str(path))
            assert result.error is None
            findings.extend(d.text() for d in result.diagnostics)
    assert findings == []

"""Property tests: generated programs never crash the linter; the exit status is 0 or 1.

Two generators: hypothesmith's grammar-based programs (arbitrary syntax, with a capsys
import so the rules run on them), and programs assembled from capsys snippets (agents,
behaviours, sends, moves, aliases...), which reach deep into every rule.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import hypothesmith
import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capsys.cli import main
from capsys.config import Config
from capsys.lint.engine import fix_source, lint_source
from capsys.lint.index import ProjectIndex

HEADER = (
    "import time\nfrom capsys import Agent, Iso, Ref, Tag, Val, behaviour, consume, iso, "
    "message, val\nfrom runtime import Runtime, quorum, broadcast\n"
)

STATEMENTS = [
    "data = iso([1, 2])",
    "other = data",
    "other = consume(data)",
    "tag.send(Sink.put, data)",
    "tag.send(Sink.put, [1])",
    "tag.send(Sink.put, self)",
    "print(data.take())",
    "items = [1]",
    "handle = iso(items)",
    "items.append(3)",
    "x = val([1])",
    "time.sleep(1)",
    "SEEN.append(1)",
    "tag.n",
    "s = Sink()",
    "rt.spawn(Sink, self)",
    "await tag.ask(Sink.get)",
    "if flag:\n    tag.send(Sink.put, data)",
    "for _ in range(3):\n    tag.send(Sink.put, data)",
    "while flag:\n    data = iso([])\n    break",
    "try:\n    tag.send(Sink.put, data)\nexcept Exception:\n    pass",
    "with open('f') as fh:\n    print(fh)",
    "f = lambda: tag.send(Sink.put, data)",
    "match flag:\n    case True:\n        data = iso([])\n    case _:\n        pass",
    "return data",
    "global SEEN",
    "del data",
    "async with Runtime() as rt:\n    tag = rt.spawn(Sink)",
]


def _indent(block: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in block.splitlines())


@st.composite
def capsys_programs(draw: st.DrawFn) -> str:
    body = draw(st.lists(st.sampled_from(STATEMENTS), min_size=1, max_size=8))
    is_async = draw(st.booleans())
    where = draw(st.sampled_from(["behaviour", "function", "init"]))
    code = "\n".join(body)
    sink = (
        "SEEN: list[int] = []\n\n@message\nclass Msg:\n    items: list[int]\n\n"
        "class Sink(Agent):\n    @behaviour\n    def put(self, data: Iso[list[int]]) -> None: ...\n"
        "    @behaviour\n    def get(self) -> list[int]: ...\n\n"
    )
    head = "async def" if is_async else "def"
    if where == "function":
        return (
            HEADER
            + sink
            + f"{head} use(tag: Tag[Sink], flag: bool, self: object) -> None:\n"
            + _indent(code, "    ")
            + "\n"
        )
    decorator = "    @behaviour\n" if where == "behaviour" else ""
    name = "run" if where == "behaviour" else "__init__"
    return (
        HEADER
        + sink
        + "class Worker(Agent):\n"
        + decorator
        + f"    {head} {name}(self, tag: Tag[Sink], flag: bool) -> None:\n"
        + _indent(code, "        ")
        + "\n"
    )


def _check(source: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gen.py"
        data = source.encode("utf-8", errors="surrogatepass")
        path.write_bytes(data)
        config = Config(root=Path(folder))
        index = ProjectIndex([Path(folder)])
        result = lint_source(path, data, config, index, "gen.py")
        assert result.error is None, result.error
        fixed = fix_source(path, data, config, index)
        if fixed != data:
            cst.parse_module(fixed)  # a fix never breaks the file
            assert fix_source(path, fixed, config, index) == fixed  # and is idempotent
        status = main(["lint", "--no-cache", "--quiet", str(path)])
        assert status in (0, 1)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(capsys_programs())
def test_capsys_snippet_programs_never_crash(source: str) -> None:
    _check(source)


# hypothesmith compiles each program it generates, and Python warns at compile time
# about some of them (a call of a string literal, say): not ours to fix.
@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_grammar())
def test_grammar_programs_never_crash(source: str) -> None:
    _check(HEADER + source)

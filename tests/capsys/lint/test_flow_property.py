"""The CAP005 dataflow against the run-time truth, on generated programs.

Each generated function moves and uses two ``Iso`` handles through ``if``/``else``,
``for``, ``while``, ``break``, ``continue`` and ``return``, steered by a stream of
flags. Running it with the real ``capsys`` handles says where a moved handle is used
(``MovedError``). Properties:

- recall: every line that raises ``MovedError`` in some run is reported;
- precision: a line reported as *definitely* moved raises whenever it runs.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import hypothesis.strategies as st
import libcst as cst
from hypothesis import HealthCheck, given, settings

from capsys import MovedError
from capsys.lint.flow import analyze_module
from tests.capsys.lint.test_flow import TinyResolver

FILENAME = "<generated-flow>"
NAMES = ("h", "k")

simple = st.sampled_from(
    [
        "{n} = iso([1])",
        "consume({n})",
        "{n}.take()",
        "{n}.take",
        "{o} = consume({n})",
        "iso({n})",
        "pass",
    ]
).flatmap(lambda t: st.sampled_from(NAMES).map(lambda n: t.format(n=n, o=_other(n))))


def _other(name: str) -> str:
    return "k" if name == "h" else "h"


def _indent(lines: list[str]) -> list[str]:
    return [f"    {line}" for line in lines]


def _block(children: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    compound = st.one_of(
        st.tuples(children, children).map(
            lambda p: ["if flag():", *_indent(p[0]), "else:", *_indent(p[1])]
        ),
        children.map(lambda b: ["if flag():", *_indent(b)]),
        children.map(lambda b: ["for _ in range(2):", *_indent(b)]),
        children.map(lambda b: ["while flag():", *_indent(b)]),
        children.map(lambda b: ["for _ in range(2):", *_indent(["if flag():", "    break", *b])]),
        children.map(lambda b: ["while flag():", *_indent(["if flag():", "    continue", *b])]),
        children.map(lambda b: ["if flag():", *_indent([*b, "return"])]),
    )
    return st.lists(st.one_of(simple.map(lambda s: [s]), compound), min_size=1, max_size=4).map(
        lambda parts: [line for part in parts for line in part]
    )


bodies = st.recursive(st.lists(simple, min_size=1, max_size=3), _block, max_leaves=12)


def _program(body: list[str]) -> str:
    lines = ["from capsys import consume, iso", "", "", "def run(flag):"]
    lines += _indent(["h = iso([1])", "k = iso([1])", *body])
    return "\n".join(lines) + "\n"


def _execute(source: str, flags: list[bool]) -> tuple[set[int], int | None]:
    """Run ``run`` with the flags: (lines executed, line that raised MovedError)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, FILENAME, "exec"), namespace)
    stream: Iterator[bool] = iter(flags)
    executed: set[int] = set()

    def tracer(frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        if frame.f_code.co_filename != FILENAME:
            return None
        if event == "line":
            executed.add(frame.f_lineno)
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        namespace["run"](lambda: next(stream, False))
    except MovedError as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == FILENAME]
        return executed, frames[-1].lineno
    finally:
        sys.settrace(previous)
    return executed, None


def _findings(source: str) -> dict[int, bool]:
    """Line -> definite, for every CAP005 finding of the analysis."""
    module = cst.parse_module(source)
    result = analyze_module(module, TinyResolver(module))
    positions = cst.MetadataWrapper(module, unsafe_skip_copy=True).resolve(
        cst.metadata.PositionProvider
    )
    lines: dict[int, bool] = {}
    for use in result.uses_after_move:
        line = positions[use.node].start.line
        lines[line] = lines.get(line, False) or use.definite
    return lines


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, runs=st.lists(st.lists(st.booleans(), max_size=8), min_size=1, max_size=4))
def test_analysis_agrees_with_the_runtime(body: list[str], runs: list[list[bool]]) -> None:
    source = _program(body)
    reported = _findings(source)
    for flags in runs:
        executed, raised = _execute(source, flags)
        if raised is not None:
            assert raised in reported, f"missed a use after move at line {raised}:\n{source}"
        for line, definite in reported.items():
            if definite and line in executed:
                assert raised == line, f"line {line} is not always a use after move:\n{source}"

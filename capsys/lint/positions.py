"""Positions (libcst's ``PositionProvider`` ranges) of a few nodes of a module, cheaply.

Resolving libcst positions for a whole file walks it twice (a metadata visit, then code
generation that splits every token on newlines and builds two objects per node): on a
20,000-line file that is most of the run, for the handful of nodes that are reported.
Here only the top-level statements holding the asked nodes are generated, once each,
recording plain character offsets that are turned into lines and columns at the end;
the lines before a statement are counted in its plain generated code. A top-level
statement starts a line, so a column inside it is its column in the file.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from types import TracebackType

import libcst as cst
from libcst._nodes.internal import CodegenState

from capsys.lint.walk import walk

__all__ = ["Positions", "Span", "positions_of"]

_NEWLINE = re.compile(r"\r\n?|\n")  # what libcst's PositionProvider counts as a line break


@dataclass(frozen=True)
class Span:
    """Where a node is: 1-based lines, 0-based columns, as libcst's ``CodeRange``; and
    the text of its first line (for suppression comments)."""

    line: int
    column: int
    end_line: int
    end_column: int
    line_text: str


class _Offsets(CodegenState):
    """Code generation that records each node's range as character offsets, with the
    same rules as libcst's ``PositionProvidingCodegenState`` (a syntactic range where
    the node records one, else the range including its whitespace)."""

    def __init__(self, module: cst.Module) -> None:
        super().__init__(
            default_indent=module.default_indent, default_newline=module.default_newline
        )
        self.offset = 0
        self.starts: list[int] = []
        self.ranges: dict[int, tuple[int, int]] = {}

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self.offset += len(value)

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.starts.append(self.offset)

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self.starts.pop()
        self.ranges.setdefault(id(node), (start, self.offset))

    def record_syntactic_position(  # type: ignore[override]
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> _Syntactic:
        return _Syntactic(self, node, start_node, end_node)


class _Syntactic:
    """The context manager of ``record_syntactic_position`` (a class: cheaper than a
    generator-based one, and entered for most nodes)."""

    __slots__ = ("end_node", "node", "start", "start_node", "state")

    def __init__(
        self,
        state: _Offsets,
        node: cst.CSTNode,
        start_node: cst.CSTNode | None,
        end_node: cst.CSTNode | None,
    ) -> None:
        self.state, self.node = state, node
        self.start_node, self.end_node = start_node, end_node
        self.start = 0

    def __enter__(self) -> None:
        self.start = self.state.offset

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        ranges = self.state.ranges
        start = self.start if self.start_node is None else ranges[id(self.start_node)][0]
        end = self.state.offset if self.end_node is None else ranges[id(self.end_node)][1]
        ranges[id(self.node)] = (start, end)


@dataclass
class _Generated:
    """One generated top-level statement (or the whole module): its text, where its
    lines start, and its nodes' offset ranges."""

    first_line: int  # the file's line of its first line
    text: str
    line_starts: list[int]  # offset where each line after the first starts
    ranges: dict[int, tuple[int, int]]

    def where(self, offset: int) -> tuple[int, int]:
        index = bisect_right(self.line_starts, offset)
        start = self.line_starts[index - 1] if index else 0
        return self.first_line + index, offset - start

    def span(self, node: cst.CSTNode) -> Span | None:
        found = self.ranges.get(id(node))
        if found is None:
            return None
        (line, column), (end_line, end_column) = self.where(found[0]), self.where(found[1])
        index = line - self.first_line
        begin = self.line_starts[index - 1] if index else 0
        end = self.line_starts[index] if index < len(self.line_starts) else len(self.text)
        return Span(line, column, end_line, end_column, self.text[begin:end].rstrip("\r\n"))


def _generate(module: cst.Module, node: cst.CSTNode, first_line: int) -> _Generated:
    state = _Offsets(module)
    node._codegen(state)
    text = "".join(state.tokens)
    starts = [match.end() for match in _NEWLINE.finditer(text)]
    return _Generated(first_line, text, starts, state.ranges)


class Positions:
    """The positions of one module's nodes, computed per top-level statement, lazily."""

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.owner: dict[int, int] = {}  # id(node) -> index of its top-level statement
        self.walked = 0  # statements whose nodes are in ``owner``
        self.first_lines = [len(module.header) + 1]  # of the statements counted so far
        self.generated: dict[int, _Generated] = {}
        self.whole: _Generated | None = None

    def _index(self, node: cst.CSTNode) -> int | None:
        body = self.module.body
        while id(node) not in self.owner and self.walked < len(body):
            for inner in walk(body[self.walked]):
                self.owner[id(inner)] = self.walked
            self.walked += 1
        return self.owner.get(id(node))

    def _first_line(self, index: int) -> int:
        body = self.module.body
        while len(self.first_lines) <= index:
            counted = len(self.first_lines) - 1
            done = self.generated.get(counted)
            text = done.text if done is not None else self.module.code_for_node(body[counted])
            self.first_lines.append(self.first_lines[-1] + len(_NEWLINE.findall(text)))
        return self.first_lines[index]

    def span(self, node: cst.CSTNode) -> Span | None:
        index = self._index(node)
        if index is None:  # not inside a statement (the module itself): the whole file
            if self.whole is None:
                self.whole = _generate(self.module, self.module, 1)
            return self.whole.span(node)
        done = self.generated.get(index)
        if done is None:
            statement = self.module.body[index]
            done = self.generated[index] = _generate(
                self.module, statement, self._first_line(index)
            )
        return done.span(node)


# One file is checked at a time per process, and the rules and the engine ask about the
# same module: a one-entry cache keyed by the module object (identity).
_CACHE: list[Positions] = []


def positions_of(module: cst.Module) -> Positions:
    """The (lazily computed) positions of ``module``'s nodes."""
    if not (_CACHE and _CACHE[0].module is module):
        _CACHE[:] = [Positions(module)]
    return _CACHE[0]

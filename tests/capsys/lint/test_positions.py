"""The linter's own node positions agree with libcst's ``PositionProvider``."""

from __future__ import annotations

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from capsys.lint.positions import positions_of

SOURCE = (
    "#!/usr/bin/env python\n# a header comment\n\nimport os\n\n\n"
    "@decorate(\n    1,\n)\nclass A:\n    '''doc\n    string'''\n\n"
    "    def f(self, *args, **kwargs):  # trailing\n        x = (1 +\n             y)\n"
    "        return x\n\x0c\n# page break above\nif True: z = 1; w = z\n"
    "t = [\n    'a',  # capsys: ignore\n    f'{os.sep!r:>{3}}',\n]\n\n# footer\n"
)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("reverse", [False, True])
def test_every_node_where_libcst_puts_it(newline: str, reverse: bool) -> None:
    # Asked in any order (the statements before are counted, not generated twice).
    module = cst.parse_module(SOURCE.replace("\n", newline))
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    lines = module.code.split(newline)
    nodes = list(expected)
    assert len(nodes) > 100
    positions = positions_of(module)
    for node in reversed(nodes) if reverse else nodes:
        span = positions.span(node)
        where = expected[node]
        assert span is not None
        assert (span.line, span.column, span.end_line, span.end_column) == (
            where.start.line,
            where.start.column,
            where.end.line,
            where.end.column,
        ), cst.Module(body=[]).code_for_node(node)
        assert span.line_text == lines[where.start.line - 1]


def test_a_node_of_another_tree_has_no_position() -> None:
    module = cst.parse_module("x = 1\n")
    assert positions_of(module).span(cst.Name("x")) is None

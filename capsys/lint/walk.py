"""A fast, read-only walk over libcst trees.

``node.visit(visitor)`` rebuilds every node it passes (libcst shares that code path with
transformers, and each rebuilt node re-runs its validation), which costs about twice the
parse itself. The rules only read the tree, so they walk the dataclass fields directly,
skipping the whitespace, comment and punctuation fields that can hold no code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import libcst as cst

__all__ = ["LEAVES", "children", "is_node", "walk"]

# Fields that only hold whitespace, comments, parentheses or punctuation.
_SKIP = frozenset(
    {
        "lpar",
        "rpar",
        "leading_lines",
        "lines_after_decorators",
        "header",
        "footer",
        "trailing_whitespace",
        "comma",
        "semicolon",
        "dot",
        "colon",
        "equal",
        "star",
        "asynchronous",
        "whitespace",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "operator",
        "first_line",
        "empty_lines",
        "newline",
        "indent",
        "encoding",
        "default_indent",
        "default_newline",
        "has_trailing_newline",
        "prefix",
        "quote",
        "raw_value",
        "value_quote",
    }
)
_FIELDS: dict[type, tuple[str, ...]] = {}
# isinstance() against libcst classes goes through ABCMeta (slow); each concrete type is
# classified once instead.
_IS_NODE: dict[type, bool] = {}


def is_node(value: object) -> bool:
    """``isinstance(value, cst.CSTNode)``, memoised per concrete type."""
    kind = type(value)
    flag = _IS_NODE.get(kind)
    if flag is None:
        flag = _IS_NODE[kind] = issubclass(kind, cst.CSTNode)
    return flag


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in _SKIP and not f.name.startswith("whitespace")
        )
        _FIELDS[cls] = names
    return names


# Nodes with no child that can hold code: the walk does not look inside them.
LEAVES = frozenset(
    {
        cst.Name,
        cst.Integer,
        cst.Float,
        cst.Imaginary,
        cst.SimpleString,
        cst.Pass,
        cst.Break,
        cst.Continue,
        cst.Ellipsis,
    }
)


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The child nodes that can hold code, in field order (not always source order)."""
    if type(node) in LEAVES:
        return
    for name in _fields(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            for item in value:
                if is_node(item):
                    yield item
        elif is_node(value):
            yield value


_SCOPES = frozenset(
    {
        cst.FunctionDef,
        cst.Lambda,
        cst.ClassDef,
        cst.ListComp,
        cst.SetComp,
        cst.DictComp,
        cst.GeneratorExp,
    }
)


def walk(node: cst.CSTNode, *, into_scopes: bool = True) -> Iterator[cst.CSTNode]:
    """``node`` and every node below it that can hold code (pre-order).

    With ``into_scopes=False`` the walk does not enter nested functions, lambdas, classes
    or comprehensions below ``node`` (it still yields those nodes themselves).
    """
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        kind = type(current)
        if kind in LEAVES or (not into_scopes and current is not node and kind in _SCOPES):
            continue
        found = list(children(current))
        found.reverse()
        stack.extend(found)

"""How deeply nested a file may be, and a stack deep enough to check one that is.

libcst's parser (native code), its visitors and its position computation (Python) recurse
once per level of nesting. On the default stacks a chain of 8,000 ``+`` overflowed the C
stack (a segfault that took every other file's results with it), 400 levels exhausted the
recursion limit, and on 3.12.1 800 levels passed the fixed limit of C recursion. How deep
CPython's own parser goes differs by version too (about 3,000 levels on 3.11 and 3.12, 6,000
to 10,000 on 3.10 and 3.13). So the linter sets one limit of its own, the same on every
version, and checks every file on a thread whose stack and recursion limit are sized for it.
"""

from __future__ import annotations

import ast
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["MAX_DEPTH", "deepest", "on_deep_stack"]

# Levels of syntax tree (module, statement, expression...) the linter checks: libcst on
# 3.12.1 still computes positions at 700. Code written by hand stays below 100; past this
# are generated chains (an expression of 500 ``+``), reported as not checked (CAP000).
MAX_DEPTH = 500

# What checking MAX_DEPTH levels needs: Python frames (libcst's visit takes three per
# level, a rule's own walk a few more) and C stack (libcst's parser, and on 3.10 every
# Python call). The margin is wide because the stack is only reserved: pages are used as
# they are touched. A thread's default stack may be far smaller (128 KiB on musl).
_FRAMES = 12 * MAX_DEPTH + 2000
_STACK_BYTES = 64 * 1024 * 1024

_T = TypeVar("_T")
_limit_lock = threading.Lock()
_raised = 0  # threads now running with the raised recursion limit
_saved_limit = 0


def deepest(tree: ast.AST, limit: int = MAX_DEPTH) -> ast.AST | None:
    """A node deeper than ``limit`` levels (one with a position when there is one), or
    None. Level by level, without recursion, and it stops at the limit: a few ms for a
    thousand-line file, against about 200 for libcst's parse."""
    level: list[ast.AST] = [tree]
    depth = 1
    while level:
        if depth > limit:
            return next((node for node in level if hasattr(node, "lineno")), level[0])
        below: list[ast.AST] = []
        add = below.append
        for node in level:
            for value in node.__dict__.values():  # the fields and the positions
                if isinstance(value, ast.AST):
                    add(value)
                elif type(value) is list:
                    for item in value:
                        if isinstance(item, ast.AST):
                            add(item)
        level = below
        depth += 1
    return None


def _raise_limit() -> None:
    global _raised, _saved_limit
    with _limit_lock:
        if _raised == 0:
            _saved_limit = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_saved_limit, _FRAMES))
        _raised += 1


def _restore_limit() -> None:
    global _raised
    with _limit_lock:
        _raised -= 1
        if _raised == 0:
            sys.setrecursionlimit(_saved_limit)


def on_deep_stack(work: Callable[[], _T]) -> _T:
    """``work()`` on a thread with a stack and a recursion limit for MAX_DEPTH levels.

    The recursion limit is the interpreter's, not the thread's: it is raised while any
    such thread runs and put back after the last one.
    """
    outcome: list[_T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller's thread as it is
            failure.append(exc)

    _raise_limit()
    try:
        with _limit_lock:
            # The stack size applies to threads started after it is set: set it, start
            # this one, and put the default back for every other thread of the process.
            previous = threading.stack_size(_STACK_BYTES)
            try:
                thread = threading.Thread(target=run, name="capsys-lint", daemon=True)
                thread.start()
            finally:
                threading.stack_size(previous)
        thread.join()
    finally:
        _restore_limit()
    if failure:
        raise failure[0]
    return outcome[0]

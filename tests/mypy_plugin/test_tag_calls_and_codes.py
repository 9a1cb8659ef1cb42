"""How mypy sees a Tag and the calls through it (no protocol matches a Tag; behaviour
arguments are checked in every overload, options and **kwargs included), and the CAP
codes in mypy's own error-code switches. Each pinned by the program that showed it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from capsys.diagnostics import format_message
from tests.mypy_plugin.cases import HEADER
from tests.mypy_plugin.harness import REPO, Result, run_mypy, write_files

_HEADER_LINES = HEADER.count("\n")


def _check(tmp_path: Path, cache: Path | None, source: str, **kwargs: object) -> Result:
    write_files(tmp_path, {"snippet.py": HEADER + source})
    result = run_mypy(tmp_path, ["snippet.py"], cache_dir=cache, **kwargs)  # type: ignore[arg-type]
    assert not result.internal_error, result.stdout + result.stderr
    return result


def _errors(result: Result) -> list[tuple[int, str]]:
    """(line in the snippet, code) of every error, the header's lines not counted."""
    return sorted((f.line - _HEADER_LINES, f.code) for f in result.findings)


def _lineless(result: Result) -> list[str]:
    """Errors printed without a line number (mypy's Context() of a protocol check)."""
    return [t for t in result.stdout.splitlines() if re.match(r"^[^:\s]+\.py: error:", t)]


# ---- 1. a Tag has only its declared methods ------------------------------------------

TAG_SURFACE = """
from collections.abc import Sized


class B(Agent):
    @behaviour
    def peer(self) -> Tag[B]:
        return self.me


def takes_int(x: int) -> None: ...


async def use(t: Tag[B], tags: list[Tag[B]]) -> None:
    x = await t.ask(B.peer)
    reveal_type(x)
    sorted(tags, key=hash)
    sorted(tags)
    takes_int(t)
    s: Sized = t
    print(t.count)
    t.count()
    await t
    print(t == t, hash(t), s)
"""


def test_a_tag_matches_no_protocol_and_dunders_are_no_cap007(
    tmp_path: Path, mypy_cache: Path
) -> None:
    result = _check(tmp_path, mypy_cache, TAG_SURFACE, extra_args=["--show-column-numbers"])
    assert _lineless(result) == [], result.stdout
    assert 'Revealed type is "capsys.tag.Tag[snippet.B]"' in result.stdout
    assert _errors(result) == [
        (18, "type-var"),
        (19, "arg-type"),
        (20, "assignment"),
        (21, "CAP007"),
        (22, "CAP007"),
        (23, "misc"),
    ], result.stdout
    detail = (
        '"count" is reached through a Tag[B], but a Tag is only the address of the agent and '
        "its state is private; call a behaviour instead: tag.send(B.<behaviour>, ...) or "
        "await tag.ask(B.<behaviour>, ...)"
    )
    line = _HEADER_LINES + 21
    message = format_message("CAP007", detail=detail)
    assert f"snippet.py:{line}:11: error: {message}  [CAP007]" in result.stdout, result.stdout


# ---- 2. CAP codes in mypy's own error-code switches -------------------------------------

ANY_SEND = """\
from typing import Any

from capsys import Agent, Tag, behaviour


class Store(Agent):
    @behaviour
    def put(self, item: str) -> None:
        pass


def use(store: Tag[Store], item: Any) -> None:
    store.send(Store.put, item)
"""
ANY_LINE = 13


@pytest.mark.parametrize(
    ("ini", "args", "inline", "reported"),
    [
        ("", [], "", True),
        ("disable_error_code = CAP012\n", [], "", False),
        ("", ["--disable-error-code", "CAP012"], "", False),
        ("[mypy-snippet]\ndisable_error_code = CAP012\n", [], "", False),
        ("", [], '# mypy: disable-error-code="CAP012"\n', False),
        (
            "disable_error_code = CAP012\n[mypy-snippet]\nenable_error_code = CAP012\n",
            [],
            "",
            True,
        ),
        ("disable_error_code = CAP012\n", [], '# mypy: enable-error-code="CAP012"\n', True),
    ],
    ids=["default", "global", "command-line", "per-module", "inline", "enable", "enable-inline"],
)
def test_cap_codes_work_in_mypys_error_code_switches(
    tmp_path: Path, ini: str, args: list[str], inline: str, reported: bool
) -> None:
    # A fresh process: in this one the codes are registered already (the harness
    # imports the checks), which is what hid the bug.
    (tmp_path / "snippet.py").write_text(inline + ANY_SEND)
    (tmp_path / "mypy.ini").write_text(
        f"[mypy]\nstrict = True\nplugins = mypy_plugin\nmypy_path = {REPO}\n{ini}"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", *args, "snippet.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert "INTERNAL ERROR" not in output and "Invalid error code" not in output, output
    line = ANY_LINE + inline.count("\n")
    assert (f"snippet.py:{line}: error:" in done.stdout) == reported, output
    assert done.returncode == (1 if reported else 0), output


# ---- 3, 4, 8. calls typed by a behaviour's ParamSpec ------------------------------------

CALLS = """
from collections.abc import Sequence

from runtime import broadcast, quorum


class A(Agent):
    @behaviour
    def b(self, x: int) -> str:
        return ""

    @behaviour
    def s(self, x: Sequence[int]) -> None:  # type: ignore[CAP002]
        pass

    @behaviour
    async def a(self, x: int) -> str:
        return ""

    @behaviour
    def kw(self, x: int, **extra: str) -> int:
        return x


async def use(t: Tag[A]) -> None:
    await t.ask(A.s, [1], timeout=1.0)
    await broadcast([t], A.s, [1], fanout=2)
    await quorum([t], 1, A.s, [1], timeout=2.0)
    await t.ask(A.b, "wrong", timeout=1.0)
    await t.ask(A.b, timeout=1.0)
    await broadcast([t], A.b, "x", fanout=2)
    await quorum([t], 1, A.b, "x")
    t.send(A.kw, 1, a="s")
    await t.send_wait(A.kw, 1, a="s")
    t.send(A.kw, 1, a=2)
    reveal_type(await t.ask(A.kw, 1, a="s", timeout=1.0))
    reveal_type(await t.ask(A.a, 1, timeout=1.0))
    await t.ask(A.b, 1, timeout=1.0)
    await broadcast([t], A.b, 1, fanout=2)
    await quorum([t], 1, A.b, 1, timeout=2.0, accept=lambda r: r == "")
"""


def test_behaviour_arguments_are_checked_once_with_options_and_kwargs(
    tmp_path: Path, mypy_cache: Path
) -> None:
    result = _check(tmp_path, mypy_cache, CALLS)
    assert _errors(result) == [
        (26, "CAP001"),
        (27, "CAP001"),
        (28, "CAP001"),
        (29, "arg-type"),
        (30, "call-arg"),
        (31, "arg-type"),
        (32, "arg-type"),
        (35, "arg-type"),
    ], result.stdout
    hint = "use tuple[...] to share it, or Iso[list[...]] to move it"
    for line, verb in ((26, "ask"), (27, "broadcast"), (28, "quorum")):
        what = f"Argument 1 of {verb} to A.s (list[int])"
        expected = format_message("CAP001", what=what, detail=hint)
        assert result.messages("snippet.py", "CAP001").count((_HEADER_LINES + line, expected)) == 1
    messages = dict(result.messages("snippet.py"))
    assert messages[_HEADER_LINES + 29] == (
        'Argument 1 to "b" of "A" has incompatible type "str"; expected "int"'
    )
    assert messages[_HEADER_LINES + 30] == 'Missing positional argument "x" in call to "b" of "A"'
    assert messages[_HEADER_LINES + 35] == (
        'Argument "a" to "send" of "Tag" has incompatible type "int"; expected "str"'
    )
    for line, revealed in ((36, "int"), (37, "str")):
        note = f'snippet.py:{_HEADER_LINES + line}: note: Revealed type is "{revealed}"'
        assert note in result.stdout, result.stdout


# ---- 5. Val with the wrong number of arguments: mypy's own type-arg errors ------------

VAL_ARITY = """
class A(Agent):
    @behaviour
    def a(self, x: Val) -> None:  # type: ignore[type-arg]
        pass

    @behaviour
    def b(self, x: Val[int, str]) -> None:
        pass


x: Val[int, str] = 1
y: Val = 2
z: Val[int] = 3
"""


def test_val_arity_is_mypys_type_arg_error_and_no_cap012(tmp_path: Path, mypy_cache: Path) -> None:
    result = _check(tmp_path, mypy_cache, VAL_ARITY)
    assert _errors(result) == [(8, "type-arg"), (12, "type-arg"), (13, "type-arg")], result.stdout
    messages = dict(result.messages("snippet.py"))
    bad = "Bad number of arguments for type alias, expected 1, given 2"
    assert messages[_HEADER_LINES + 12] == bad
    assert messages[_HEADER_LINES + 13] == 'Missing type arguments for generic type "Val"'


# ---- 6. writing agent state through a Tag: CAP007 alone, as a read ---------------------

TAG_WRITE = """
class Peer(Agent):
    def __init__(self) -> None:
        self.count = 0

    @behaviour
    def ping(self) -> None:
        self.count += 1


def poke(p: Tag[Peer]) -> None:
    print(p.count)
    p.count = 3
    p.count += 1
    p.count = 4  # type: ignore[CAP007]
"""


def test_a_write_through_a_tag_is_cap007_alone(tmp_path: Path, mypy_cache: Path) -> None:
    result = _check(tmp_path, mypy_cache, TAG_WRITE)
    assert _errors(result) == [(12, "CAP007"), (13, "CAP007"), (14, "CAP007")], result.stdout


def test_without_the_plugin_a_write_through_a_tag_is_still_an_error(tmp_path: Path) -> None:
    # The typing-only Tag.__setattr__ accepts no value: plain mypy rejects the write too.
    source = HEADER + TAG_WRITE.replace("  # type: ignore[CAP007]", "")
    (tmp_path / "snippet.py").write_text(source)
    (tmp_path / "mypy.ini").write_text(f"[mypy]\nstrict = True\nmypy_path = {REPO}\n")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "snippet.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = re.findall(r"^snippet\.py:(\d+): error:", done.stdout, re.MULTILINE)
    errors = {int(line) - _HEADER_LINES for line in lines}
    assert done.returncode == 1 and {13, 14, 15} <= errors, done.stdout + done.stderr

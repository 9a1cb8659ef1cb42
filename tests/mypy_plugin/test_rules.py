"""Each rule and variant on real snippets, all checked by one real mypy run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from capsys.diagnostics import format_message, held_agent_detail
from capsys.sendable import SUGGESTIONS
from tests.mypy_plugin.cases import CASES, HEADER
from tests.mypy_plugin.harness import Result, expected_markers, run_mypy, write_files


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory, mypy_cache: Path) -> Result:
    folder = tmp_path_factory.mktemp("rules")
    files = {f"case_{name}.py": HEADER + text for name, text in CASES.items()}
    return run_mypy(folder, write_files(folder, files), cache_dir=mypy_cache)


def test_no_internal_error(result: Result) -> None:
    assert not result.internal_error, result.stdout + result.stderr


def test_type_ignore_with_a_capsys_code_is_used(result: Result) -> None:
    # The "suppressed" case's markers show the findings are gone; --strict would also
    # warn about an ignore that suppressed nothing.
    unused = [
        f for f in result.findings if f.code == "unused-ignore" and f.path.startswith("case_")
    ]
    assert unused == [], result.stdout


@pytest.mark.parametrize("name", sorted(CASES))
def test_findings_match_markers(result: Result, name: str) -> None:
    path = f"case_{name}.py"
    expected = expected_markers(HEADER + CASES[name])
    assert result.cap(path) == expected, result.messages(path)


LIST_HINT = SUGGESTIONS["builtins.list"]
EXPECTED_MESSAGES = [
    (
        "send_arguments",
        "CAP001",
        format_message(
            "CAP001", what="Argument 1 of send to Sink.take (list[int])", detail=LIST_HINT
        ),
    ),
    (
        "send_arguments",
        "CAP001",
        format_message(
            "CAP001",
            what="A keyword value in **pairs of send to Sink.many (list[int])",
            detail=LIST_HINT,
        ),
    ),
    (
        "ask_reply",
        "CAP001",
        format_message(
            "CAP001", what="The reply of ask to Store.dump (list[int])", detail=LIST_HINT
        ),
    ),
    (
        "spawn_arguments",
        "CAP002",
        format_message(
            "CAP002",
            what='Parameter "items" (list[int])',
            owner="Holder.__init__",
            detail=f"is not sendable: {LIST_HINT}",
        ),
    ),
    (
        "spawn_arguments",
        "CAP002",
        format_message(
            "CAP002",
            what='Parameter "items"',
            owner="Loose.__init__",
            detail="is not annotated; annotate it with a sendable type",
        ),
    ),
    (
        "inherited_init",
        "CAP002",
        format_message(
            "CAP002",
            what='Parameter "items" (list[int])',
            owner="Mixin.__init__ (inherited by agent Mixed)",
            detail=f"is not sendable: {LIST_HINT}",
        ),
    ),
    (
        "wording",
        "CAP002",
        format_message(
            "CAP002",
            what='Parameter "items" (tuple[list[int], ...])',
            owner="behaviour Shown.many",
            detail=f"is not sendable: list[int] at [...]: {LIST_HINT}",
        ),
    ),
    (
        "wording",
        "CAP002",
        format_message(
            "CAP002",
            what='Parameter "items" (L)',
            owner="behaviour Shown.bound",
            detail=f"is not sendable: it may be list[int], which is not sendable: {LIST_HINT}",
        ),
    ),
    (
        "wording",
        "CAP003",
        format_message(
            "CAP003",
            what='Field "b" of message Pair',
            detail=f"its type list[int] is not sendable: {LIST_HINT}",
        ),
    ),
    (
        "messages",
        "CAP003",
        format_message(
            "CAP003",
            what='Field "a" of message Bad',
            detail=f"its type list[int] is not sendable: {LIST_HINT}",
        ),
    ),
    (
        "val",
        "CAP004",
        format_message("CAP004", what="Val[dict[str, int]]", detail=SUGGESTIONS["builtins.dict"]),
    ),
    (
        "primitives",
        "CAP001",
        format_message("CAP001", what="The item of Channel.put (list[str])", detail=LIST_HINT),
    ),
    (
        "self_escape",
        "CAP008",
        format_message("CAP008", detail="self (the agent object) is stored in message Hello"),
    ),
    (
        "self_escape",
        "CAP008",
        format_message("CAP008", detail="self (the agent object) is passed to val()"),
    ),
    (
        "self_escape",
        "CAP008",
        format_message("CAP008", detail="me (the agent object self) is passed to val()"),
    ),
    (
        "self_escape",
        "CAP008",
        format_message(
            "CAP008",
            detail="me (the agent object self) is passed as argument 1 of send to Boss.register",
        ),
    ),
    (
        "agent_fields",
        "CAP007",
        format_message("CAP007", detail=held_agent_detail('Field "peer" of agent Holder', "Peer")),
    ),
    (
        "agent_fields",
        "CAP007",
        format_message("CAP007", detail=held_agent_detail('Field "table" of agent Holder', "Peer")),
    ),
    (
        "any",
        "CAP012",
        format_message("CAP012", what="Argument 1 of send to Store.put", type="Any"),
    ),
]


@pytest.mark.parametrize(("name", "code", "message"), EXPECTED_MESSAGES)
def test_messages_use_the_catalogue_wording(
    result: Result, name: str, code: str, message: str
) -> None:
    found = [text for _, text in result.messages(f"case_{name}.py", code)]
    assert message in found, found


_LINT_LINE = re.compile(r"^[^:\n]+:(?P<line>\d+):(?P<col>\d+): (?P<code>CAP\d{3}) (?P<msg>.*)$")
_MYPY_LINE = re.compile(
    r"^[^:\n]+:(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.*?)  \[(?P<code>CAP\d{3})\]$"
)


def test_agent_fields_match_the_linter_to_the_column(tmp_path: Path, mypy_cache: Path) -> None:
    files = write_files(tmp_path, {"fields.py": HEADER + CASES["agent_fields"]})
    result = run_mypy(tmp_path, files, cache_dir=mypy_cache, extra_args=["--show-column-numbers"])
    assert not result.internal_error, result.stdout + result.stderr
    plugin = {m.groups() for m in map(_MYPY_LINE.match, result.stdout.splitlines()) if m}
    lint = subprocess.run(
        [sys.executable, "-m", "capsys", "lint", "--no-cache", str(tmp_path / "fields.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    linter = {
        (m["line"], m["col"], m["msg"], m["code"])
        for m in map(_LINT_LINE.match, lint.stdout.splitlines())
        if m
    }
    assert len(plugin) == 8, result.stdout
    assert plugin == linter, (result.stdout, lint.stdout)


def _plugin_and_linter(
    folder: Path, files: dict[str, str], mypy_cache: Path
) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]], str]:
    """(path, line, column, code, message) of every capsys finding of each checker."""
    names = write_files(folder, files)
    result = run_mypy(folder, names, cache_dir=mypy_cache, extra_args=["--show-column-numbers"])
    assert not result.internal_error, result.stdout + result.stderr
    mypy_line = re.compile(
        r"^(?P<path>[^:\n]+):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.*?)  \[(?P<code>CAP\d{3})\]$"
    )
    lint_line = re.compile(
        r"^(?P<path>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<code>CAP\d{3}) (?P<msg>.*)$"
    )
    fields = ("path", "line", "col", "code", "msg")
    plugin = {
        tuple(Path(m[f]).name if f == "path" else m[f] for f in fields)
        for m in map(mypy_line.match, result.stdout.splitlines())
        if m
    }
    lint = subprocess.run(
        [sys.executable, "-m", "capsys", "lint", "--no-cache", *(str(folder / n) for n in names)],
        capture_output=True,
        text=True,
        check=False,
    )
    linter = {
        tuple(Path(m[f]).name if f == "path" else m[f] for f in fields)
        for m in map(lint_line.match, lint.stdout.splitlines())
        if m
    }
    return plugin, linter, result.stdout + lint.stdout


SAME_AS_THE_LINTER = """
class Peer(Agent):
    @behaviour
    def hello(self, who: Tag[Peer]) -> None:
        pass

    @behaviour
    def go(self, other: Tag[Peer]) -> None:
        me = self
        other.send(Peer.hello, me)  # type: ignore[arg-type]
        other.send(Peer.hello, (1, me))  # type: ignore[arg-type]

    @behaviour
    async def spread(
        self,
        n: int,
    ) -> list[int]:
        return []

    @behaviour
    def wide(
        self,
    ) -> dict[
        str, int
    ]:
        return {}
"""


def test_self_aliases_and_return_types_match_the_linter_to_the_column(
    tmp_path: Path, mypy_cache: Path
) -> None:
    plugin, linter, both = _plugin_and_linter(
        tmp_path, {"same.py": HEADER + SAME_AS_THE_LINTER}, mypy_cache
    )
    assert len(plugin) == 4, both
    assert plugin == linter, both
    # At the return annotation, on the last line of the signature, not at the def.
    returns = {p[1:3] for p in plugin if p[3] == "CAP002"}
    assert returns == {("21", "10"), ("27", "10")}, both


INHERITED_FIELDS = {
    "base.py": HEADER
    + """

@message
class Base:
    m: int
    extra: list[int]  # type: ignore[CAP003]  # capsys: ignore[CAP003]
""",
    "child.py": HEADER
    + """
from base import Base


@message
class Child(Base):
    k: int


@message
class Local:
    m: int
    extra: list[int]


@message
class LocalChild(Local):
    k: int


@message
class Redeclared(Local):
    extra: list[int]
""",
}


def test_an_inherited_message_field_is_reported_only_where_it_is_declared(
    tmp_path: Path, mypy_cache: Path
) -> None:
    plugin, linter, both = _plugin_and_linter(tmp_path, INHERITED_FIELDS, mypy_cache)
    # The plugin reports a field at its name, the linter at its annotation.
    assert {p[:2] + p[3:] for p in plugin} == {p[:2] + p[3:] for p in linter}, both
    messages = sorted((p[1], p[4]) for p in plugin)
    assert [line for line, _ in messages] == ["17", "27"], both
    assert 'Field "extra" of message Local:' in messages[0][1], both
    assert 'Field "extra" of message Redeclared:' in messages[1][1], both


def _without_columns(findings: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    return {(path, line, code) for path, line, _, code, _ in findings}


@pytest.mark.parametrize(
    "name",
    [
        "forward_references_without_behaviours",
        "forward_fields_without_behaviours",
        "self_in_displays",
        "returned_self",
        "inherited_init",
    ],
)
def test_self_escapes_and_later_classes_match_the_linter(
    tmp_path: Path, mypy_cache: Path, name: str
) -> None:
    source = HEADER + CASES[name]
    plugin, linter, both = _plugin_and_linter(tmp_path, {"same.py": source}, mypy_cache)
    # `*[self]`: the plugin names what crosses (self, CAP008); the linter leaves star
    # arguments alone.
    star = {
        str(number) for number, text in enumerate(source.splitlines(), start=1) if "*[self]" in text
    }
    assert _without_columns(plugin) - {("same.py", n, "CAP008") for n in star} == (
        _without_columns(linter)
    ), both
    # A self escaping is reported at the self, to the column and in the same words.
    assert {p for p in plugin if p[3] == "CAP008" and p[1] not in star} == {
        p for p in linter if p[3] == "CAP008"
    }, both


def test_abstract_types_and_plain_subclasses_match_the_linter(
    tmp_path: Path, mypy_cache: Path
) -> None:
    # Hashable, Sized, Awaitable (the linter knew the collections only) and a plain
    # subclass of a @message (the linter left it unknown) are not sendable for both.
    source = HEADER + CASES["abstract_types_and_plain_subclasses"]
    plugin, linter, both = _plugin_and_linter(tmp_path, {"abc_.py": source}, mypy_cache)
    assert _without_columns(plugin) == _without_columns(linter), both
    assert {p[4] for p in plugin} == {p[4] for p in linter}, both
    assert len(plugin) == 5, both


def test_dataclass_agents_match_the_linter(tmp_path: Path, mypy_cache: Path) -> None:
    # A dataclass agent's fields are its __init__'s parameters, reported at each field
    # (the plugin reported the written __init__ at no line, or, without a behaviour,
    # not at all; the linter said nothing).
    source = HEADER + CASES["dataclass_agents"]
    plugin, linter, both = _plugin_and_linter(tmp_path, {"dc.py": source}, mypy_cache)
    assert plugin == linter, both
    assert len(plugin) == 3, both


def test_unpacked_keywords_match_the_linter(tmp_path: Path, mypy_cache: Path) -> None:
    # **kw: Unpack[TD]: each key of the TypedDict (its bases' too, the functional form
    # alike) is a parameter, reported by both in the same words.
    source = HEADER + CASES["unpacked_keywords"]
    plugin, linter, both = _plugin_and_linter(tmp_path, {"kw.py": source}, mypy_cache)
    assert {p[:2] + p[3:] for p in plugin} == {p[:2] + p[3:] for p in linter}, both
    assert sorted(p[4].split(" (")[0] for p in linter) == [
        'Keyword "names" of parameter "**kw"',
        'Keyword "rows" of parameter "**kw"',
        'Keyword "tags" of parameter "**kw"',
    ], both


QUOTED_LATER_CLASSES = """\
from capsys import Agent, Tag


class Book(Agent):
    def __init__(self, cfg: "Config", desk: "Desk", owner: Tag["Desk"]) -> None:
        self.cfg = cfg
        self.desk = desk
        self.peer: "Desk | None" = None
        self.owner: "Tag[Desk] | None" = owner


class Config:
    pass


class Desk(Agent):
    pass
"""


def test_quoted_later_classes_in_init_and_fields(tmp_path: Path, mypy_cache: Path) -> None:
    plugin, linter, both = _plugin_and_linter(
        tmp_path, {"quoted.py": QUOTED_LATER_CLASSES}, mypy_cache
    )
    assert sorted((p[1], p[3]) for p in plugin) == [
        ("5", "CAP002"),
        ("5", "CAP007"),
        ("8", "CAP007"),
    ], both
    assert _without_columns(plugin) == _without_columns(linter), both

"""The move/alias dataflow (capsys.lint.flow) on its own, with a tiny import resolver."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from capsys.lint.flow import (
    FlowResult,
    analyze_module,
    consume_expression,
    line_of,
    load_names,
    may_move,
)

HEADER = "from capsys import Agent, Iso, Tag, behaviour, consume, iso\n"


class TinyResolver:
    """Understands ``from capsys import name [as alias]`` and ``import capsys [as c]``."""

    def __init__(self, module: cst.Module) -> None:
        self.names: dict[str, str] = {}
        self.modules: set[str] = set()
        for stmt in module.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name):
                    if small.module.value != "capsys" or isinstance(small.names, cst.ImportStar):
                        continue
                    for alias in small.names:
                        assert isinstance(alias.name, cst.Name)
                        local = alias.name.value
                        if alias.asname is not None:
                            assert isinstance(alias.asname.name, cst.Name)
                            local = alias.asname.name.value
                        self.names[local] = alias.name.value
                elif isinstance(small, cst.Import):
                    for alias in small.names:
                        if isinstance(alias.name, cst.Name) and alias.name.value == "capsys":
                            local = "capsys"
                            if alias.asname is not None:
                                assert isinstance(alias.asname.name, cst.Name)
                                local = alias.asname.name.value
                            self.modules.add(local)

    def qualified(self, expr: cst.BaseExpression) -> str | None:
        return None  # only capsys names are known

    def capsys_name(self, expr: cst.BaseExpression) -> str | None:
        if isinstance(expr, cst.Name):
            return self.names.get(expr.value)
        if (
            isinstance(expr, cst.Attribute)
            and isinstance(expr.value, cst.Name)
            and expr.value.value in self.modules
        ):
            return expr.attr.value
        return None


class Analyzed:
    """The analysis of one snippet with positions for its findings."""

    def __init__(self, source: str, header: bool = True) -> None:
        self.source = (HEADER if header else "") + textwrap.dedent(source)
        self.module = cst.parse_module(self.source)
        self.result: FlowResult = analyze_module(self.module, TinyResolver(self.module))
        wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
        self.positions = wrapper.resolve(PositionProvider)

    def at(self, node: cst.CSTNode) -> tuple[int, int]:
        start = self.positions[node].start
        return start.line, start.column

    def moves(self) -> set[tuple[int, int, str, bool]]:
        """(line, column, name, definite) of every use after move."""
        return {(*self.at(u.node), u.name, u.definite) for u in self.result.uses_after_move}

    def move_lines(self) -> set[int]:
        return {line for line, _, _, _ in self.moves()}

    def aliases(self) -> set[tuple[int, int, str, str, bool]]:
        return {(*self.at(a.node), a.name, a.target, a.fix_is_safe) for a in self.result.aliases}

    def non_fresh(self) -> set[tuple[int, int, str, str]]:
        return {(*self.at(n.node), n.kind, n.text) for n in self.result.non_fresh}


def moves(source: str) -> set[tuple[int, int, str, bool]]:
    return Analyzed(source).moves()


# Line numbers below count the one-line HEADER: the snippet's first line is line 2.


class TestStraightLine:
    def test_use_after_send(self) -> None:
        found = moves(
            """\
            def f(sink, data: Iso[list[int]]) -> None:
                sink.send(Sink.put, data)
                print(data.take())
            """
        )
        assert found == {(4, 10, "data", True)}

    def test_iso_local_send_then_attribute(self) -> None:
        assert moves(
            """\
            def f(sink) -> None:
                h = iso([1])
                sink.send(Sink.put, h)
                h.take()
            """
        ) == {(5, 4, "h", True)}

    def test_where_and_how_are_recorded(self) -> None:
        analyzed = Analyzed(
            """\
            async def f(sink) -> None:
                h = iso([1])
                await sink.ask(Sink.put, value=h)
                return h
            """
        )
        (use,) = analyzed.result.uses_after_move
        (site,) = use.sites
        assert site.how == "ask"
        assert analyzed.at(site.node) == (4, 35)
        assert analyzed.at(use.node) == (5, 11)

    @pytest.mark.parametrize(
        "call",
        [
            "t.send(A.b, h)",
            "t.spawn(A, h)",
            "rt.spawn(A, h)",
            "quorum(ts, 2, A.b, h)",
            "broadcast(ts, A.b, h)",
            "ch.put(h)",
            "consume(h)",
            "iso(h)",
            "h.take()",
            "t.send_wait(A.b, h)",
        ],
    )
    def test_every_moving_call(self, call: str) -> None:
        found = moves(f"h = iso([1])\n{call}\nh.take()\n")
        assert found == {(4, 0, "h", True)}

    def test_non_iso_values_are_not_moved_by_send(self) -> None:
        assert (
            moves(
                """\
            def f(sink) -> None:
                rows = [1]
                sink.send(Sink.put, rows)
                print(rows)
            """
            )
            == set()
        )

    def test_plain_local_moved_by_iso(self) -> None:
        assert moves(
            """\
            items = [1, 2]
            handle = iso(items)
            items.append(3)
            """
        ) == {(4, 0, "items", True)}

    def test_consume_moves_its_argument(self) -> None:
        assert moves(
            """\
            def f(a: Iso[list[int]]) -> Iso[list[int]]:
                b = consume(a)
                b.take()
                return a
            """
        ) == {(5, 11, "a", True)}

    def test_function_annotated_to_return_an_iso(self) -> None:
        assert moves(
            """\
            def make() -> Iso[list[int]]:
                return iso([1])

            def f(sink) -> None:
                h = make()
                sink.send(Sink.put, h)
                len(h.take())
            """
        ) == {(8, 8, "h", True)}

    def test_aliased_import_and_module_attribute(self) -> None:
        found = Analyzed(
            """\
            import capsys as c
            from capsys import iso as wrap

            items = [1]
            h = wrap(items)
            items.clear()
            g = c.consume(h)
            h.take()
            """,
            header=False,
        ).moves()
        assert found == {(6, 0, "items", True), (8, 0, "h", True)}

    def test_name_without_capsys_import_is_not_iso(self) -> None:
        found = Analyzed("from lib import iso\nx = [1]\nh = iso(x)\nx.clear()\n", False)
        assert found.moves() == set()


class TestBranches:
    def test_moved_on_one_branch_is_possibly_moved(self) -> None:
        assert moves(
            """\
            def f(sink, flag: bool) -> None:
                h = iso([1])
                if flag:
                    sink.send(Sink.put, h)
                h.take()
            """
        ) == {(6, 4, "h", False)}

    def test_moved_on_both_branches_is_definitely_moved(self) -> None:
        assert moves(
            """\
            def f(sink, flag: bool) -> None:
                h = iso([1])
                if flag:
                    sink.send(Sink.put, h)
                elif flag is None:
                    consume(h)
                else:
                    sink.send(Sink.other, h)
                h.take()
            """
        ) == {(10, 4, "h", True)}

    def test_elif_without_else_is_possibly(self) -> None:
        found = moves(
            """\
            def f(sink, n: int) -> None:
                h = iso([1])
                if n == 1:
                    sink.send(Sink.put, h)
                elif n == 2:
                    sink.send(Sink.put, h)
                h.take()
            """
        )
        assert found == {(8, 4, "h", False)}

    def test_move_then_return_does_not_poison_after_the_if(self) -> None:
        assert (
            moves(
                """\
            def f(sink, flag: bool) -> None:
                h = iso([1])
                if flag:
                    sink.send(Sink.put, h)
                    return
                h.take()
            """
            )
            == set()
        )

    def test_move_then_raise_does_not_poison_after_the_if(self) -> None:
        assert (
            moves(
                """\
            def f(sink, flag: bool) -> None:
                h = iso([1])
                if flag:
                    sink.send(Sink.put, h)
                    raise ValueError("sent")
                h.take()
            """
            )
            == set()
        )

    def test_use_inside_the_moving_branch(self) -> None:
        assert moves(
            """\
            def f(sink, flag: bool) -> None:
                h = iso([1])
                if flag:
                    sink.send(Sink.put, h)
                    print(h)
                else:
                    print(h)
            """
        ) == {(6, 14, "h", True)}

    def test_conditional_expression_and_boolean_operators(self) -> None:
        assert moves(
            """\
            def f(sink, flag: bool) -> None:
                h = iso([1])
                flag and sink.send(Sink.put, h)
                g = iso([2])
                consume(g) if flag else None
                print(h, g)
            """
        ) == {(7, 10, "h", False), (7, 13, "g", False)}


class TestLoops:
    def test_move_in_loop_body_is_reported_on_the_next_iteration(self) -> None:
        analyzed = Analyzed(
            """\
            def f(sinks) -> None:
                h = iso([1])
                for sink in sinks:
                    sink.send(Sink.put, h)
            """
        )
        assert analyzed.moves() == {(5, 28, "h", False)}
        (use,) = analyzed.result.uses_after_move
        assert use.repeated_move
        assert len(use.sites) == 1  # one site per moved node, however many rounds

    def test_nested_loops_keep_one_site_per_move(self) -> None:
        analyzed = Analyzed(
            """\
            def f(sinks) -> None:
                h = iso([1])
                for a in sinks:
                    for b in sinks:
                        while a:
                            for c in sinks:
                                if c:
                                    consume(h)
                                else:
                                    h.take()
            """
        )
        assert analyzed.move_lines() == {9, 11}
        assert {len(u.sites) for u in analyzed.result.uses_after_move} == {2}

    def test_rebinding_in_the_loop_is_fine(self) -> None:
        assert (
            moves(
                """\
            def f(sinks) -> None:
                for sink in sinks:
                    h = iso([1])
                    sink.send(Sink.put, h)
            """
            )
            == set()
        )

    def test_move_then_break_only_poisons_after_the_loop(self) -> None:
        assert moves(
            """\
            def f(sinks) -> None:
                h = iso([1])
                for sink in sinks:
                    if sink:
                        sink.send(Sink.put, h)
                        break
                h.take()
            """
        ) == {(8, 4, "h", False)}

    def test_use_before_move_in_loop_sees_previous_iteration(self) -> None:
        assert moves(
            """\
            def f(sinks) -> None:
                h = iso([1])
                while sinks:
                    print(h)
                    sinks.pop().send(Sink.put, h)
            """
        ) == {(5, 14, "h", False), (6, 35, "h", False)}

    def test_continue_carries_the_move_to_the_next_iteration(self) -> None:
        assert moves(
            """\
            def f(sinks) -> None:
                h = iso([1])
                for sink in sinks:
                    if sink is None:
                        consume(h)
                        continue
                    h = iso([2])
            """
        ) == {(6, 20, "h", False)}

    def test_while_else_runs_without_the_breaking_move(self) -> None:
        assert moves(
            """\
            def f(sink, n: int) -> None:
                h = iso([1])
                while n:
                    n -= 1
                    if n == 3:
                        sink.send(Sink.put, h)
                        break
                else:
                    print(h)
                h.take()
            """
        ) == {(11, 4, "h", False)}

    def test_while_true_exits_only_by_break(self) -> None:
        assert moves(
            """\
            def f(sink) -> None:
                h = iso([1])
                while True:
                    sink.send(Sink.put, h)
                    break
                print(h)
            """
        ) == {(7, 10, "h", True)}

    def test_loop_target_rebinds(self) -> None:
        assert (
            moves(
                """\
            def f(sink, hs: list[Iso[list[int]]]) -> None:
                h = iso([1])
                sink.send(Sink.put, h)
                for h in hs:
                    print(h)
            """
            )
            == set()
        )


class TestTryWithMatch:
    def test_except_handler_sees_a_possible_move(self) -> None:
        assert moves(
            """\
            def f(sink) -> None:
                h = iso([1])
                try:
                    sink.send(Sink.put, h)
                except RuntimeError:
                    print(h)
            """
        ) == {(7, 14, "h", False)}

    def test_finally_sees_the_move(self) -> None:
        assert moves(
            """\
            def f(sink) -> None:
                h = iso([1])
                try:
                    sink.send(Sink.put, h)
                finally:
                    print(h)
                h.take()
            """
        ) == {(7, 14, "h", True), (8, 4, "h", True)}

    def test_handler_that_reraises_leaves_the_normal_path(self) -> None:
        assert moves(
            """\
            def f(sink) -> None:
                h = iso([1])
                try:
                    sink.send(Sink.put, h)
                except RuntimeError:
                    raise
                h.take()
            """
        ) == {(8, 4, "h", True)}

    def test_try_else(self) -> None:
        assert moves(
            """\
            def f(sink) -> None:
                h = iso([1])
                try:
                    pass
                except RuntimeError:
                    return
                else:
                    consume(h)
                h.take()
            """
        ) == {(10, 4, "h", True)}

    def test_with_and_async_with(self) -> None:
        assert moves(
            """\
            async def f(sink, lock) -> None:
                h = iso([1])
                async with lock:
                    with open("x") as fh:
                        await sink.ask(Sink.put, h)
                h.take()
            """
        ) == {(7, 4, "h", True)}

    def test_match_arms(self) -> None:
        assert moves(
            """\
            def f(sink, cmd: str) -> None:
                h = iso([1])
                match cmd:
                    case "send":
                        sink.send(Sink.put, h)
                    case "keep":
                        print(h)
                print(h)
            """
        ) == {(9, 10, "h", False)}

    def test_match_every_arm_moves(self) -> None:
        assert moves(
            """\
            def f(sink, cmd: str) -> None:
                h = iso([1])
                match cmd:
                    case "send":
                        sink.send(Sink.put, h)
                    case _:
                        consume(h)
                print(h)
            """
        ) == {(9, 10, "h", True)}

    def test_match_capture_rebinds(self) -> None:
        assert (
            moves(
                """\
            def f(sink, cmd: object) -> None:
                h = iso([1])
                sink.send(Sink.put, h)
                match cmd:
                    case [h, *_]:
                        print(h)
            """
            )
            == set()
        )


class TestScopes:
    def test_comprehension_moving_each_iteration(self) -> None:
        assert moves(
            """\
            def f(sinks) -> None:
                h = iso([1])
                [s.send(Sink.put, h) for s in sinks]
                print(h)
            """
        ) == {(4, 22, "h", False), (5, 10, "h", False)}

    def test_comprehension_reading_a_moved_name(self) -> None:
        assert moves(
            """\
            def f(sink, xs) -> None:
                h = iso([1])
                sink.send(Sink.put, h)
                print([h for _ in xs])
            """
        ) == {(5, 11, "h", True)}

    def test_comprehension_target_shadows(self) -> None:
        assert (
            moves(
                """\
            def f(sink, hs) -> None:
                h = iso([1])
                sink.send(Sink.put, h)
                print([h.take() for h in hs], {k: h for k, h in hs})
            """
            )
            == set()
        )

    def test_lambda_capturing_a_moved_name(self) -> None:
        assert moves(
            """\
            def f(sink) -> None:
                h = iso([1])
                sink.send(Sink.put, h)
                g = lambda: h.take()
                k = lambda h: h.take()
            """
        ) == {(5, 16, "h", True)}

    def test_nested_function_reading_a_moved_name(self) -> None:
        assert moves(
            """\
            def f(sink) -> None:
                h = iso([1])
                sink.send(Sink.put, h)

                def later() -> None:
                    print(h)

                def own(h: int) -> None:
                    print(h)
            """
        ) == {(7, 14, "h", True)}

    def test_nested_function_moves_are_its_own(self) -> None:
        assert moves(
            """\
            def f(sink) -> None:
                h = iso([1])

                def later() -> None:
                    sink.send(Sink.put, h)
                    h.take()

                h.take()
            """
        ) == {(7, 8, "h", True)}

    def test_methods_and_module_level(self) -> None:
        assert moves(
            """\
            h = iso([1])
            consume(h)
            print(h)

            class Sender(Agent):
                @behaviour
                def go(self, sink: Tag[Sink], data: Iso[list[int]]) -> None:
                    sink.send(Sink.put, data)
                    data.take()
            """
        ) == {(4, 6, "h", True), (10, 8, "data", True)}


class TestRevival:
    def test_rebinding_makes_the_name_live_again(self) -> None:
        assert (
            moves(
                """\
            def f(sink) -> None:
                h = iso([1])
                sink.send(Sink.put, h)
                h = iso([2])
                sink.send(Sink.put, h)
            """
            )
            == set()
        )

    def test_consume_into_the_same_name(self) -> None:
        assert (
            moves(
                """\
            def f(h: Iso[list[int]]) -> None:
                h = consume(h)
                h.take()
            """
            )
            == set()
        )

    def test_walrus_rebinds(self) -> None:
        assert (
            moves(
                """\
            def f(sink) -> None:
                h = iso([1])
                sink.send(Sink.put, h)
                if (h := iso([2])) is not None:
                    h.take()
            """
            )
            == set()
        )

    def test_del_of_a_moved_name_is_not_a_use(self) -> None:
        assert (
            moves(
                """\
            def f(sink) -> None:
                h = iso([1])
                sink.send(Sink.put, h)
                del h
                h = iso([3])
                h.take()
            """
            )
            == set()
        )

    def test_take_moves_the_handle(self) -> None:
        assert moves(
            """\
            def f(h: Iso[list[int]]) -> None:
                items = h.take()
                items.append(1)
                h.take()
            """
        ) == {(5, 4, "h", True)}


class TestAlias:
    def test_plain_alias(self) -> None:
        analyzed = Analyzed(
            """\
            def f(sink) -> None:
                a = iso([1])
                b = a
                sink.send(Sink.put, b)
            """
        )
        assert analyzed.aliases() == {(4, 8, "a", "b", True)}

    def test_fix_is_unsafe_when_the_name_is_used_later(self) -> None:
        analyzed = Analyzed(
            """\
            class Keeper(Agent):
                def __init__(self, data: Iso[list[int]]) -> None:
                    self.data = data
                    print(data)
            """
        )
        assert analyzed.aliases() == {(4, 20, "data", "self.data", False)}

    def test_consume_is_not_an_alias(self) -> None:
        analyzed = Analyzed(
            """\
            def f(a: Iso[list[int]]) -> None:
                b = consume(a)
                c: Iso[list[int]] = consume(b)
            """
        )
        assert analyzed.aliases() == set()

    def test_alias_of_a_moved_name_is_a_use_after_move_only(self) -> None:
        analyzed = Analyzed(
            """\
            def f(a: Iso[list[int]]) -> None:
                consume(a)
                b = a
            """
        )
        assert analyzed.aliases() == set()
        assert analyzed.move_lines() == {4}


class TestFreshness:
    def test_field_parameter_global_aliased(self) -> None:
        analyzed = Analyzed(
            """\
            CACHE = []

            class Keeper(Agent):
                def give(self, items: list[int]) -> None:
                    iso(self.items)
                    iso(items)
                    iso(CACHE)
                    rows = [1]
                    other = rows
                    iso(rows)

            def counter() -> None:
                global TOTAL
                TOTAL = []
                iso(TOTAL)
            """
        )
        assert analyzed.non_fresh() == {
            (6, 12, "field", "self.items"),
            (7, 12, "parameter", "items"),
            (8, 12, "global", "CACHE"),
            (11, 12, "aliased local", "rows"),
            (16, 8, "global", "TOTAL"),
        }

    @pytest.mark.parametrize(
        "alias",
        [
            "other = items",
            "self.keep = items",
            "store.append(items)",
            "pair = (items, 1)",
            "items = other = []",
        ],
    )
    def test_ways_to_alias_a_local(self, alias: str) -> None:
        analyzed = Analyzed(
            f"""\
            def f(self, store) -> None:
                items = []
                {alias}
                iso(items)
            """
        )
        assert {kind for *_, kind, _ in analyzed.non_fresh()} == {"aliased local"}

    def test_fresh_values_are_fine(self) -> None:
        analyzed = Analyzed(
            """\
            DATA = [1]
            h = iso(DATA)

            def f(items: list[int], sink) -> None:
                iso([1, 2])
                iso(list(items))
                iso({k: 1 for k in items})
                rows = [1]
                rows.append(2)
                sink.send(Sink.put, iso(rows))
                g = iso([3])
                iso(g)
                a = []
                b = a
                a = []
                iso(a)
            """
        )
        assert analyzed.non_fresh() == set()


class TestHelpers:
    @pytest.mark.parametrize(
        ("imports", "expected"),
        [
            ("from capsys import consume\n", "consume"),
            ("from capsys import consume as take_over\n", "take_over"),
            ("from capsys.capabilities import consume\n", "consume"),
            ("import capsys\n", "capsys.consume"),
            ("import capsys as c\n", "c.consume"),
            ("from capsys import iso\n", None),
            ("import os\n", None),
        ],
    )
    def test_consume_expression(self, imports: str, expected: str | None) -> None:
        expr = consume_expression(cst.parse_module(imports))
        written = None if expr is None else cst.Module([]).code_for_node(expr)
        assert written == expected

    def test_load_names_skips_stores_attributes_and_keywords(self) -> None:
        module = cst.parse_module(
            "a.b = c\nd = f(x=e, *g)\nfor h in i: pass\nlambda j=k: j\n[m for n in o]\n"
        )
        assert [n.value for n in load_names(module)] == [
            "a",
            "c",
            "f",
            "e",
            "g",
            "i",
            "k",
            "j",
            "m",
            "o",
        ]


@pytest.mark.parametrize(
    ("imported", "expected"),
    [
        (["capsys.Agent", "capsys.behaviour", "capsys.Tag"], False),
        (["runtime.Runtime", "runtime.quorum", "os.path"], False),
        (["capsys.iso"], True),
        (["capsys.capabilities.consume"], True),
        (["capsys.Iso"], True),
        (["capsys"], True),
        (["capsys.capabilities"], True),
        (["lib.iso"], False),
    ],
)
def test_may_move(imported: list[str], expected: bool) -> None:
    assert may_move(imported) is expected


def test_elements_of_fields_parameters_globals_and_local_containers_are_not_fresh() -> None:
    # A local list keeps a reference to its element too; a slice is a new list.
    analyzed = Analyzed(
        """\
        ROWS = [[1]]

        class Keeper(Agent):
            def give(self, groups: list[list[int]]) -> None:
                iso(self.groups[0])
                iso(groups[1][0])
                iso(ROWS[0])
                local = [[1]]
                iso(local[0])
                iso(local[1:])
        """
    )
    assert analyzed.non_fresh() == {
        (6, 12, "field", "self.groups[0]"),
        (7, 12, "parameter", "groups[1][0]"),
        (8, 12, "global", "ROWS[0]"),
        (10, 12, "element", "local[0]"),
    }


def test_methods_annotated_to_return_an_iso() -> None:
    assert moves(
        """\
        class Maker(Agent):
            def make(self) -> Iso[list[int]]:
                return iso([1])

            @behaviour
            def go(self, sink: Tag[Sink]) -> None:
                h = self.make()
                sink.send(Sink.put, h)
                h.take()
        """
    ) == {(10, 8, "h", True)}


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_line_of_agrees_with_libcst_positions(newline: str) -> None:
    source = (
        "#!/usr/bin/env python\n# a header comment\n\nimport os\n\n\n"
        "@decorate(\n    1,\n)\nclass A:\n    '''doc\n    string'''\n\n"
        "    def f(self):  # trailing\n        x = (1 +\n             y)\n        return x\n"
        "if True: z = 1; w = z\n\n# footer\n"
    ).replace("\n", newline)
    module = cst.parse_module(source)
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    names = [n for n in positions if isinstance(n, cst.Name)]
    assert len(names) > 10
    for name in names:
        assert line_of(module, name) == positions[name].start.line

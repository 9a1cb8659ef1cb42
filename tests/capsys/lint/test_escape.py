"""The shared-global (CAP009) and state-escape (CAP010) analyses on their own."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from capsys.lint.escape import mutable_global_kinds, shared_global_uses, state_escapes


class Module:
    def __init__(self, source: str) -> None:
        self.module = cst.parse_module(textwrap.dedent(source))
        self.positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(
            PositionProvider
        )
        self.kinds = mutable_global_kinds(self.module)

    def at(self, node: cst.CSTNode) -> tuple[int, int]:
        start = self.positions[node].start
        return start.line, start.column

    def classes(self) -> list[tuple[cst.ClassDef, list[cst.FunctionDef]]]:
        out = []
        for stmt in self.module.body:
            if isinstance(stmt, cst.ClassDef):
                assert isinstance(stmt.body, cst.IndentedBlock)
                methods = [m for m in stmt.body.body if isinstance(m, cst.FunctionDef)]
                out.append((stmt, methods))
        return out

    def globals_used(self) -> set[tuple[int, int, str, str]]:
        found = set()
        for _, methods in self.classes():
            for method in methods:
                for use in shared_global_uses(method, self.kinds.__contains__):
                    found.add((*self.at(use.node), use.name, use.access))
        return found

    def escapes(self) -> set[tuple[int, int, str, str]]:
        found = set()
        for cls, methods in self.classes():
            for escape in state_escapes(cls, methods):
                found.add((*self.at(escape.node), escape.what, escape.api))
        return found


class TestMutableGlobals:
    def test_kinds(self) -> None:
        module = Module(
            """\
            import collections
            A = []
            B: dict[str, int] = {}
            C = set()
            D = collections.deque()
            E = bytearray(3)
            F = (1, 2)
            G = "x"
            H = frozenset({1})
            n = 0

            def bump() -> None:
                global n
                n += 1
            """
        )
        assert module.kinds == {
            "A": "list", "B": "dict", "C": "set", "D": "deque", "E": "bytearray", "n": "global"
        }  # fmt: skip


class TestSharedGlobals:
    def test_reads_writes_mutations_and_global(self) -> None:
        found = Module(
            """\
            SEEN = []
            CACHE = {}
            LIMIT = 10
            total = 0

            class T:
                def a(self, k: str) -> int:
                    SEEN.append(k)
                    CACHE[k] = 1
                    del CACHE[k]
                    for x in SEEN:
                        pass
                    return len(CACHE) + LIMIT

                def b(self) -> None:
                    global total
                    total += 1
            """
        ).globals_used()
        assert found == {
            (8, 8, "SEEN", "mutates"),
            (9, 8, "CACHE", "writes"),
            (10, 12, "CACHE", "writes"),
            (11, 17, "SEEN", "reads"),
            (13, 19, "CACHE", "reads"),
            (16, 15, "total", "rebinds"),
        }

    def test_shadowing_locals_params_and_nested_scopes(self) -> None:
        found = Module(
            """\
            SEEN = []
            CACHE = {}
            ROWS = []

            class T:
                def a(self, SEEN: list[str]) -> None:
                    SEEN.append("x")
                    CACHE = {}
                    CACHE["k"] = 1
                    print([ROWS for ROWS in range(3)])
                    f = lambda ROWS: ROWS.append(1)
            """
        ).globals_used()
        assert found == set()

    def test_nested_code_in_the_behaviour_counts(self) -> None:
        found = Module(
            """\
            SEEN = []

            class T:
                def a(self) -> None:
                    def later() -> None:
                        SEEN.clear()
                    f = lambda: len(SEEN)
            """
        ).globals_used()
        assert found == {(6, 12, "SEEN", "mutates"), (7, 24, "SEEN", "reads")}


class TestStateEscapes:
    def test_the_spec_apis(self) -> None:
        found = Module(
            """\
            class Saver:
                def flush(self) -> None: ...

                async def go(self, tg, loop, executor, nursery) -> None:
                    asyncio.create_task(self.flush_async())
                    loop.create_task(worker(self.rows))
                    tg.start_soon(self.flush)
                    nursery.start_soon(self.work, self.rows)
                    tg.create_task(self.run())
                    await anyio.to_thread.run_sync(self.flush)
                    await asyncio.to_thread(self.flush)
                    await loop.run_in_executor(self.pool, self.flush)
                    threading.Thread(target=self.flush).start()
                    threading.Thread(target=write, args=(self.rows,))
                    executor.submit(self.flush)
                    executor.map(self.flush, items)
                    Thread(target=lambda: self.rows.clear())
            """
        ).escapes()
        assert {(line, col) for line, col, _, _ in found} == {
            (5, 28), (6, 25), (7, 22), (8, 27), (8, 38), (9, 23), (10, 39), (11, 32), (12, 46),
            (13, 32), (14, 45), (15, 24), (16, 21), (17, 22),
        }  # fmt: skip
        whats = {what for _, _, what, _ in found}
        assert "the bound method self.flush" in whats
        assert "the field self.rows" in whats
        assert "the coroutine worker(...) given the field self.rows" in whats
        assert "a lambda over self" in whats

    def test_closures_and_locals(self) -> None:
        found = Module(
            """\
            class Saver:
                def flush(self) -> None: ...

                def go(self, tg) -> None:
                    def job() -> None:
                        self.rows.clear()
                    cb = self.flush
                    tg.start_soon(job)
                    tg.start_soon(cb)
                    tg.start_soon(functools.partial(self.flush, 1))
                    asyncio.create_task(send(self))
            """
        ).escapes()
        assert {(line, what) for line, _, what, _ in found} == {
            (8, "the nested function job, which uses self"),
            (9, "cb (the bound method self.flush)"),
            (10, "functools.partial of the bound method self.flush"),
            (11, "the coroutine send(...) given the agent object self"),
        }

    @pytest.mark.parametrize(
        "call",
        [
            "tg.start_soon(write, tuple(self.rows))",  # an immutable copy
            "tg.start_soon(self.me.send, Saver.flush)",  # the Tag is sendable
            "asyncio.create_task(self.me.ask(Saver.flush))",
            "tg.start_soon(lambda: self.me.send(Saver.flush))",
            "asyncio.create_task(asyncio.sleep(1))",
            "threading.Thread(target=write, args=(snapshot,), name=self.name)",
            "loop.run_in_executor(self.pool, write, snapshot)",
            "self.rows.map(self.flush)",  # not an executor
            "anyio.from_thread.run_sync(self.flush)",  # runs in the loop, not concurrently
            "print(self.rows)",
        ],
    )
    def test_no_escape(self, call: str) -> None:
        source = f"""\
            class Saver:
                def flush(self) -> None: ...

                def go(self, tg, loop, snapshot) -> None:
                    {call}
            """
        assert Module(source).escapes() == set()

    def test_static_and_class_methods_have_no_self(self) -> None:
        found = Module(
            """\
            class Saver:
                @staticmethod
                def go(self, tg) -> None:
                    tg.start_soon(self.flush)

                @classmethod
                def make(cls, tg) -> None:
                    tg.start_soon(cls.flush)
            """
        ).escapes()
        assert found == set()


class TestAliasesAndExecutors:
    def test_field_aliases_and_closures_over_them(self) -> None:
        found = Module(
            """\
            class Saver:
                def go(self, tg) -> None:
                    rows = self.rows
                    tg.start_soon(write, rows)
                    tg.start_soon(lambda: rows.clear())
                    copy = tuple(self.rows)
                    tg.start_soon(write, copy)
            """
        ).escapes()
        assert {(line, what) for line, _, what, _ in found} == {
            (4, "rows (the field self.rows)"),
            (5, "a lambda over self"),
        }

    def test_executor_bound_in_with(self) -> None:
        found = Module(
            """\
            class Saver:
                def work(self, x: int) -> int: ...

                def go(self, items) -> None:
                    with ThreadPoolExecutor() as ex:
                        list(ex.map(self.work, items))
                    results = []
                    results.map(self.work)
            """
        ).escapes()
        assert {(line, api) for line, _, _, api in found} == {(6, "ex.map")}


def test_coroutine_of_a_nested_function_over_self() -> None:
    found = Module(
        """\
        class Saver:
            async def go(self) -> None:
                async def job() -> None:
                    self.n += 1

                asyncio.create_task(job())
        """
    ).escapes()
    assert {(line, col) for line, col, _, _ in found} == {(6, 28)}

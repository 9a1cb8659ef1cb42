"""File -> parse once -> one scan shared by all rules -> located, suppressed diagnostics.

The checked code is parsed with libcst and never imported or executed. Files that do not
import capsys or runtime, nor a module of the project that does, cannot contain capsys
code: a cheap byte-level check skips them before parsing with libcst. Positions are
computed only for files that have findings.
"""

from __future__ import annotations

import ast
import re
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import libcst as cst

from capsys.config import Config
from capsys.diagnostics import format_message
from capsys.lint.context import FileContext
from capsys.lint.files import read_source
from capsys.lint.index import ProjectIndex, file_hash, module_name_for, resolve_relative
from capsys.lint.model import Diagnostic, Finding, Fix
from capsys.lint.nesting import MAX_DEPTH, deepest, on_deep_stack
from capsys.lint.positions import Span, positions_of
from capsys.lint.rules import all_rules

__all__ = [
    "FileResult",
    "InternalError",
    "apply_fixes",
    "cannot_check",
    "imports_capsys",
    "lint_file",
    "lint_source",
]

# `import capsys`, `import x, runtime.y`, `from capsys.z import ...`, `from runtime import`:
# anything else cannot reach capsys names, so the file has nothing to check. A statement
# starts a line (after a UTF-8 BOM on the first), a `;` or a compound statement's `:`;
# a backslash continues the line. Erring towards a match only costs a parse.
_WS = rb"(?:[ \t\f]|\\\r?\n)"
_IMPORTS_CAPSYS = re.compile(
    rb"(?:^|\A\xef\xbb\xbf|[;:])" + _WS + rb"*(?:from" + _WS + rb"+(?:capsys|runtime)\b"
    rb"|import" + _WS + rb"+(?:[^\r\n#;\\]|\\\r?\n)*\b(?:capsys|runtime)\b)",
    re.MULTILINE,
)
_SUPPRESS = re.compile(r"#\s*capsys:\s*ignore(?:\[([A-Za-z0-9_,\s]*)\])?")


class InternalError(Exception):
    """A rule crashed on a file: a linter bug, reported with exit status 2."""


@dataclass
class FileResult:
    """What linting one file produced."""

    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # what the result depends on: module (or path) -> (path, content hash or None: absent)
    deps: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    skipped: bool = False  # did not import capsys: not parsed
    error: str | None = None  # an internal failure (a linter bug), not a finding


def imports_capsys(data: bytes) -> bool:
    """The cheap pre-check: does the text import capsys or runtime at all?"""
    return _IMPORTS_CAPSYS.search(data) is not None


_COMPILE_ERRORS = (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError)


def _native_parse(data: bytes) -> ast.Module | Exception:
    """This interpreter's own (C) parser's tree of the source, or its error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = compile(data, "<capsys lint>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except _COMPILE_ERRORS as exc:  # UnicodeDecodeError is a ValueError
        return exc
    return cast(ast.Module, tree)


def _too_deep(native: ast.Module | Exception) -> tuple[int, int, str] | None:
    """Where, and why, the source is nested too deeply to check; None if it is not.

    CPython refuses some such sources for their nesting (``((((...``, a chain of 3,000
    ``+`` on 3.11), not for their grammar: libcst may know newer grammar, never deeper
    nesting. Below what CPython refuses, MAX_DEPTH is the linter's own limit.
    """
    deep = f"nested more than {MAX_DEPTH} levels deep"
    if isinstance(native, ast.AST):
        node = deepest(native)
        if node is None:
            return None
        return getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1, deep
    if isinstance(native, (RecursionError, MemoryError)):
        return 1, 1, deep
    if isinstance(native, SyntaxError) and any(
        phrase in (native.msg or "") for phrase in ("too many nested", "too complex", "too deep")
    ):
        line, column = (native.lineno, max(native.offset or 1, 1)) if native.lineno else (1, 1)
        return line, column, "too deeply nested to parse"
    return None


def _recursion_in(exc: BaseException) -> bool:
    """Whether ``exc`` comes of a RecursionError (libcst turns some into a KeyError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, RecursionError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def compiles(data: bytes) -> bool:
    """Whether this interpreter's own (C) parser accepts the source."""
    return isinstance(_native_parse(data), ast.AST)


def _suppressed_codes(line: str) -> frozenset[str] | None:
    """Codes suppressed on a source line; an empty set means every code."""
    match = _SUPPRESS.search(line)
    if match is None:
        return None
    if match.group(1) is None:
        return frozenset()
    return frozenset(c.strip().upper() for c in match.group(1).split(",") if c.strip())


def cannot_check(path: str, config: Config, line: int, column: int, error: str) -> Diagnostic:
    """CAP000: the file was not checked, and why (never passed over as clean)."""
    return Diagnostic(
        path,
        line,
        column,
        "CAP000",
        format_message("CAP000", error=error),
        config.severity_of("CAP000").value,
        line,
        column,
    )


def _parse_error(path: str, data: bytes, config: Config, exc: Exception) -> Diagnostic:
    if isinstance(exc, cst.ParserSyntaxError):
        # CPython locates syntax errors more precisely than libcst's parser: prefer it
        # when it rejects the file too.
        native = _native_parse(data)
        if isinstance(native, SyntaxError) and native.lineno:
            message = native.msg or "invalid syntax"
            return cannot_check(
                path, config, native.lineno, max(native.offset or 1, 1), f"syntax error: {message}"
            )
        message = exc.message.splitlines()[0] if exc.message else "invalid syntax"
        if isinstance(native, ast.AST):
            # Valid Python that libcst's grammar lacks (``(x): int = 1``, rare forms).
            message = f"libcst cannot parse this valid Python ({message})"
        else:
            message = f"syntax error: {message}"
        return cannot_check(path, config, exc.raw_line, exc.raw_column + 1, message)
    if isinstance(exc, UnicodeDecodeError):
        start = exc.start
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        return cannot_check(
            path, config, line, column, f"not valid {exc.encoding} text ({exc.reason})"
        )
    if isinstance(exc, SyntaxError):  # a bad encoding declaration
        return cannot_check(path, config, exc.lineno or 1, 1, f"cannot decode it ({exc.msg})")
    if isinstance(exc, RecursionError):
        return cannot_check(path, config, 1, 1, "too deeply nested to parse")
    return cannot_check(path, config, 1, 1, f"{type(exc).__name__}: {exc}")


def _read_error(path: str, config: Config, exc: OSError) -> Diagnostic:
    return cannot_check(path, config, 1, 1, f"cannot read it ({exc.strerror or exc})")


# libcst's errors, plus decoding: bad bytes, a bad or unknown coding declaration.
_PARSE_ERRORS = (
    cst.ParserSyntaxError,
    UnicodeDecodeError,
    SyntaxError,
    RecursionError,
    LookupError,
)


def parse(data: bytes) -> cst.Module:
    """Parse source bytes (encoding from the BOM / coding cookie, default UTF-8)."""
    return cst.parse_module(data)


def run_rules(ctx: FileContext, codes: Iterable[str] | None = None) -> list[Finding]:
    """Run every enabled rule on one file."""
    wanted = set(codes) if codes is not None else None
    findings: list[Finding] = []
    for rule in all_rules():
        if not ctx.config.enabled(rule.code) or (wanted is not None and rule.code not in wanted):
            continue
        try:
            findings.extend(rule.check(ctx))
        except RecursionError:
            raise  # the file's nesting, not a rule bug: the caller reports it (CAP000)
        except Exception as exc:  # a rule bug must not hide the other files' results
            raise InternalError(f"{rule.module} failed on {ctx.path}: {exc!r}") from exc
    return findings


def _locate(
    path: str, module: cst.Module, findings: Sequence[Finding], config: Config
) -> list[Diagnostic]:
    positions = positions_of(module)
    seen: set[Diagnostic] = set()
    located: list[Diagnostic] = []
    for finding in findings:
        where = positions.span(finding.node)
        if where is None or _suppressed(where, finding.code):
            continue
        diagnostic = Diagnostic(
            path,
            where.line,
            where.column + 1,
            finding.code,
            finding.message,
            config.severity_of(finding.code).value,
            where.end_line,
            where.end_column + 1,
            finding.fix is not None and not finding.fix.unsafe,
        )
        if diagnostic not in seen:
            seen.add(diagnostic)
            located.append(diagnostic)
    located.sort()
    return located


def _suppressed(where: Span, code: str) -> bool:
    """Whether a ``# capsys: ignore`` comment on the finding's first line covers ``code``."""
    suppressed = _suppressed_codes(where.line_text)
    return suppressed is not None and (not suppressed or code in suppressed)


def _context(path: Path, module: cst.Module, config: Config, index: ProjectIndex) -> FileContext:
    name, is_package, root = module_name_for(path)
    index.add_root(root)
    return FileContext(path, module, config, index, name, is_package)


def lint_source(
    path: Path, data: bytes, config: Config, index: ProjectIndex, display: str | None = None
) -> FileResult:
    """Lint one file's bytes. ``display`` is the path as reported (default ``path``)."""
    shown = display if display is not None else str(path)
    result = FileResult(shown)
    native: ast.Module | Exception | None = None
    if not imports_capsys(data):
        # Nothing to check unless it imports a module of the project that does; but a
        # file that is not valid Python is still reported (CAP000), so it is not
        # mistaken for a clean one. The C parser decides fast; libcst has the last word
        # (it knows newer grammar than this interpreter).
        result.skipped = True
        native = _native_parse(data)
        if isinstance(native, ast.Module):
            index.begin_file()
            result.skipped = not _imports_capsys_module(path, data, native, index)
            result.deps = index.file_deps()  # it stays unchecked until they change
        if result.skipped and (isinstance(native, ast.AST) or _too_deep(native) is not None):
            return result  # valid Python, if too deep for this interpreter's parser
    deep = _too_deep(native if native is not None else _native_parse(data))
    if deep is not None:
        # Checked before libcst sees the file: its parser recurses without a limit (an
        # overflow of the C stack is a crash that loses every other file's results).
        result.diagnostics.append(cannot_check(shown, config, *deep))
        return result
    return on_deep_stack(lambda: _check(path, data, config, index, result))


# Imports of the standard library are no modules of the project (looking for them there
# would make every file depend on where they are not).
_STDLIB = frozenset(sys.stdlib_module_names)


def _imported_modules(path: Path, tree: ast.Module) -> Iterator[str]:
    """The modules a file imports by name: ``import a.b`` gives ``a.b``; ``from a import
    b`` gives ``a`` and ``a.b`` (``b`` may be a submodule); relative ones resolved."""
    name, is_package, _ = module_name_for(path)
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                source = resolve_relative(name, is_package, node.level, source)
            if not source:
                continue
            yield source
            yield from (f"{source}.{alias.name}" for alias in node.names if alias.name != "*")


_NESTED_STATEMENTS = ("body", "orelse", "finalbody", "handlers", "cases")


def _statements(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every statement, however nested (an import is a statement: the expressions, most
    of a tree, need no visit; measured, a full ``ast.walk`` made skipped files 60% slower)."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        for name in _NESTED_STATEMENTS:
            inner = getattr(node, name, None)
            if inner:
                stack.extend(inner)


def _imports_capsys_module(path: Path, data: bytes, tree: ast.Module, index: ProjectIndex) -> bool:
    """Whether a file that does not import capsys imports a module of the project that
    does: it is then part of a capsys program (``Counter()`` of an agent class defined
    there is CAP007), as the mypy plugin sees it."""
    if b"import" not in data:
        return False
    index.add_root(module_name_for(path)[2])
    found = False
    for module in dict.fromkeys(_imported_modules(path, tree)):
        if module.split(".", 1)[0] in _STDLIB:
            continue
        source = index.source(module)
        if source is not None and imports_capsys(source):
            found = True  # the others are looked up too: the result depends on them all
    return found


def _check(
    path: Path, data: bytes, config: Config, index: ProjectIndex, result: FileResult
) -> FileResult:
    """Parse and check a file no deeper than MAX_DEPTH (on a stack deep enough for it)."""
    shown = result.path
    try:
        module = parse(data)
    except _PARSE_ERRORS as exc:
        # Always reported, whatever select/ignore say: a file that was not checked must
        # never pass as clean (as ruff does with syntax errors).
        result.diagnostics.append(_parse_error(shown, data, config, exc))
        return result
    if result.skipped:
        return result
    index.begin_file()
    try:
        ctx = _context(path, module, config, index)
        findings = run_rules(ctx)
        located = _locate(shown, module, findings, config) if findings else []
    except Exception as exc:
        if _recursion_in(exc):
            # Not expected below MAX_DEPTH; a file not checked never passes as clean.
            result.diagnostics.append(
                cannot_check(shown, config, 1, 1, "too deeply nested to check")
            )
        elif isinstance(exc, InternalError):
            result.error = str(exc)
        else:
            raise
        return result
    result.deps = {**result.deps, **index.file_deps()}  # and what made it a capsys file
    result.deps.pop(ctx.module_name, None)
    index.consulted[ctx.module_name] = (str(path), file_hash(data))
    result.diagnostics = located
    return result


def lint_file(
    path: Path, config: Config, index: ProjectIndex, display: str | None = None
) -> FileResult:
    """Read and lint one file; an unreadable file is a CAP000 finding."""
    shown = display if display is not None else str(path)
    try:
        data = read_source(path)
    except OSError as exc:
        return FileResult(shown, [_read_error(shown, config, exc)])  # CAP000: never hidden
    return lint_source(path, data, config, index, shown)


class _ApplyFixes(cst.CSTTransformer):
    def __init__(self, replacements: dict[int, cst.CSTNode]) -> None:
        self.replacements = replacements

    def on_leave(
        self, original_node: cst.CSTNodeT, updated_node: cst.CSTNodeT
    ) -> cst.CSTNodeT | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNodeT]:
        new = self.replacements.get(id(original_node))
        return cast(cst.CSTNodeT, new) if new is not None else updated_node


def apply_fixes(module: cst.Module, fixes: Iterable[Fix]) -> cst.Module:
    """Apply fixes to a module (one pass; a replacement inside another is left for the
    next pass, which the caller runs until nothing changes)."""
    replacements: dict[int, cst.CSTNode] = {}
    for fix in fixes:
        for r in fix.replacements:
            replacements.setdefault(id(r.old), r.new)
    if not replacements:
        return module
    return module.visit(_ApplyFixes(replacements))


def fix_source(
    path: Path, data: bytes, config: Config, index: ProjectIndex, *, unsafe: bool = False
) -> bytes:
    """The file's bytes with every applicable fix applied, repeated until stable.
    A file that cannot be checked (CAP000) is left as it is."""
    if not imports_capsys(data) or _too_deep(_native_parse(data)) is not None:
        return data
    return on_deep_stack(lambda: _fixed(path, data, config, index, unsafe))


def _fixed(path: Path, data: bytes, config: Config, index: ProjectIndex, unsafe: bool) -> bytes:
    try:
        module = parse(data)
    except _PARSE_ERRORS:
        return data
    original = module.code
    for _ in range(10):
        ctx = _context(path, module, config, index)
        try:
            fixes = _unsuppressed_fixes(module, run_rules(ctx), unsafe)
        except Exception as exc:
            if _recursion_in(exc):
                return data  # too deep to check, so nothing to fix
            raise
        if not fixes:
            break
        fixed = apply_fixes(module, fixes)
        if fixed.code == module.code:
            break
        try:
            module = parse(fixed.bytes)
        except cst.ParserSyntaxError as exc:
            raise InternalError(f"a fix made {path} unparsable: {exc.message}") from exc
    return data if module.code == original else module.bytes


def _unsuppressed_fixes(module: cst.Module, findings: Sequence[Finding], unsafe: bool) -> list[Fix]:
    """The fixes of findings that a ``# capsys: ignore`` comment does not suppress."""
    positions = positions_of(module)
    fixes: list[Fix] = []
    for finding in findings:
        fix = finding.fix
        if fix is None or (fix.unsafe and not unsafe):
            continue
        where = positions.span(finding.node)
        if where is not None and not _suppressed(where, finding.code):
            fixes.append(fix)
    return fixes

"""The ``capsys`` command: ``lint``, ``rules`` and ``explain``.

Exit status: 0 nothing found, 1 findings, 2 usage error or internal failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from capsys import __version__
from capsys.diagnostics import CODES, RULES, Rule, get_rule

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _rules_table(out: TextIO) -> None:
    width = max(len(r.name) for r in RULES)
    out.write(f"{'code':<7} {'name':<{width}} {'severity':<8} {'checkers':<20} summary\n")
    for r in RULES:
        checkers = ",".join(sorted(c.value for c in r.checkers))
        out.write(
            f"{r.code:<7} {r.name:<{width}} {r.severity.value:<8} {checkers:<20} {r.summary}\n"
        )


def _rule_json(r: Rule) -> dict[str, object]:
    return {
        "code": r.code,
        "name": r.name,
        "summary": r.summary,
        "message": r.message,
        "severity": r.severity.value,
        "checkers": sorted(c.value for c in r.checkers),
        "rationale": r.rationale,
        "bad": r.bad,
        "good": r.good,
    }


def _explain(r: Rule, out: TextIO) -> None:
    checkers = ", ".join(sorted(c.value for c in r.checkers))
    out.write(f"{r.code} {r.name} ({r.severity.value}; reported by {checkers})\n\n")
    out.write(f"What it finds: {r.summary}.\n\n")
    out.write(f"Why: {r.rationale}\n\n")
    out.write("Example (bad):\n\n")
    out.write("".join(f"    {line}\n" if line else "\n" for line in r.bad.splitlines()))
    out.write("\nUse instead:\n\n")
    out.write("".join(f"    {line}\n" if line else "\n" for line in r.good.splitlines()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="capsys", description="Reference capabilities for Python agents."
    )
    parser.add_argument("--version", action="version", version=f"capsys {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from capsys.lint.cli import add_arguments

    lint = sub.add_parser("lint", help="check files for capability violations")
    add_arguments(lint)
    rules = sub.add_parser("rules", help="list the diagnostic codes")
    rules.add_argument("--format", choices=("text", "json"), default="text")
    explain = sub.add_parser("explain", help="explain one diagnostic code")
    explain.add_argument("code", metavar="CODE")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    out = sys.stdout
    if args.command == "lint":
        from capsys.lint.cli import run

        return run(args)
    from capsys.lint.cli import emit

    if args.command == "rules":
        if args.format == "json":
            emit(
                out, lambda o: o.write(json.dumps([_rule_json(r) for r in RULES], indent=2) + "\n")
            )
        else:
            emit(out, _rules_table)
        return EXIT_OK
    if args.command == "explain":
        rule = get_rule(args.code)
        if rule is None:
            sys.stderr.write(
                f"capsys explain: unknown code {args.code!r}; known codes: {', '.join(CODES)}\n"
            )
            return EXIT_ERROR
        if args.format == "json":
            emit(out, lambda o: o.write(json.dumps(_rule_json(rule), indent=2) + "\n"))
        else:
            emit(out, lambda o: _explain(rule, o))
        return EXIT_OK
    parser.print_usage(sys.stderr)
    sys.stderr.write("capsys: a command is required (lint, rules, explain)\n")
    return EXIT_ERROR

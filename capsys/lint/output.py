"""Output formats of ``capsys lint``: text, json, sarif, github.

``text`` (default): one line per finding, ``path:line:col: CODE message``, sorted by
path, line, column and code; columns are 1-based, like ruff.

``json``: one object (``JSON_SCHEMA`` below is its JSON Schema)::

    {
      "tool": "capsys", "version": "0.1.0",
      "files_checked": 12, "cache_hits": 3,
      "diagnostics": [
        {"path": "app.py", "line": 7, "column": 5, "end_line": 7, "end_column": 9,
         "code": "CAP008", "name": "self-escape", "severity": "error",
         "message": "...", "fixable": true}
      ]
    }

``sarif``: SARIF 2.1.0 with one run; every catalogue rule the linter implements is in
``tool.driver.rules``; results carry ``ruleId``, ``ruleIndex``, ``level`` and a region.

``github``: GitHub Actions workflow commands
(``::error file=app.py,line=7,col=5,endLine=7,endColumn=9,title=CAP008::message``), so
findings show up as annotations on the pull request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from capsys import __version__
from capsys.diagnostics import RULES, get_rule
from capsys.lint.model import Diagnostic
from capsys.lint.rules import implemented_codes

__all__ = ["FORMATS", "JSON_SCHEMA", "SARIF_SCHEMA_URI", "render"]

FORMATS = ("text", "json", "sarif", "github")  # the same tuple as capsys.lint.cli.FORMATS
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/capsys/capsys"

JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "capsys lint --format json",
    "type": "object",
    "required": ["tool", "version", "files_checked", "cache_hits", "diagnostics"],
    "additionalProperties": False,
    "properties": {
        "tool": {"const": "capsys"},
        "version": {"type": "string"},
        "files_checked": {"type": "integer", "minimum": 0},
        "cache_hits": {"type": "integer", "minimum": 0},
        "diagnostics": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "path",
                    "line",
                    "column",
                    "end_line",
                    "end_column",
                    "code",
                    "name",
                    "severity",
                    "message",
                    "fixable",
                ],
                "properties": {
                    "path": {"type": "string"},
                    "line": {"type": "integer", "minimum": 1},
                    "column": {"type": "integer", "minimum": 1},
                    "end_line": {"type": "integer", "minimum": 1},
                    "end_column": {"type": "integer", "minimum": 1},
                    "code": {"type": "string", "pattern": "^CAP[0-9]{3}$"},
                    "name": {"type": "string"},
                    "severity": {"enum": ["error", "warning"]},
                    "message": {"type": "string"},
                    "fixable": {"type": "boolean"},
                },
            },
        },
    },
}


def _name(code: str) -> str:
    rule = get_rule(code)
    return rule.name if rule else code


def _json(diagnostics: Sequence[Diagnostic], files: int, hits: int) -> dict[str, Any]:
    return {
        "tool": "capsys",
        "version": __version__,
        "files_checked": files,
        "cache_hits": hits,
        "diagnostics": [
            {
                "path": d.path,
                "line": d.line,
                "column": d.column,
                "end_line": max(d.end_line, d.line),
                "end_column": max(d.end_column, 1),
                "code": d.code,
                "name": _name(d.code),
                "severity": d.severity,
                "message": d.message,
                "fixable": d.fixable,
            }
            for d in diagnostics
        ],
    }


def _uri(path: str) -> str:
    """A relative path as a relative URI reference (RFC 3986: percent-encoded, so that
    ``a:b.py`` does not read as scheme ``a``), an absolute one as a ``file:`` URI."""
    p = Path(path)
    if p.is_absolute():
        return p.as_uri()
    return quote(os.fsencode(p.as_posix()), safe="/")


def sarif(diagnostics: Sequence[Diagnostic]) -> dict[str, Any]:
    """The SARIF 2.1.0 log of one run."""
    codes = implemented_codes()
    rules = [r for r in RULES if r.code in codes]
    index = {r.code: i for i, r in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for d in diagnostics:
        region: dict[str, int] = {"startLine": d.line, "startColumn": d.column}
        if d.end_line >= d.line and d.end_column >= 1:
            region["endLine"] = d.end_line
            region["endColumn"] = d.end_column
        result: dict[str, Any] = {
            "ruleId": d.code,
            "level": "warning" if d.severity == "warning" else "error",
            "message": {"text": d.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(d.path)},
                        "region": region,
                    }
                }
            ],
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "capsys",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [
                            {
                                "id": r.code,
                                "name": r.name,
                                "shortDescription": {"text": r.summary},
                                "fullDescription": {"text": r.rationale},
                                "help": {
                                    "text": f"{r.rationale}\n\nBad:\n{r.bad}\nGood:\n{r.good}"
                                },
                                "defaultConfiguration": {"level": r.severity.value},
                            }
                            for r in rules
                        ],
                    }
                },
                "results": results,
            }
        ],
    }


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(d: Diagnostic) -> str:
    """One GitHub Actions workflow command for a finding."""
    kind = "warning" if d.severity == "warning" else "error"
    props = [f"file={_escape_property(d.path)}", f"line={d.line}", f"col={d.column}"]
    if d.end_line >= d.line and d.end_column >= 1:
        props += [f"endLine={d.end_line}", f"endColumn={d.end_column}"]
    props.append(f"title={_escape_property(f'{d.code} {_name(d.code)}')}")
    return f"::{kind} {','.join(props)}::{_escape_data(f'{d.code} {d.message}')}"


def render(
    fmt: str, diagnostics: Sequence[Diagnostic], out: TextIO, files: int = 0, hits: int = 0
) -> None:
    """Write ``diagnostics`` (already sorted) to ``out`` in format ``fmt``."""
    if fmt == "json":
        json.dump(_json(diagnostics, files, hits), out, indent=2)
        out.write("\n")
    elif fmt == "sarif":
        json.dump(sarif(diagnostics), out, indent=2)
        out.write("\n")
    elif fmt == "github":
        out.writelines(github(d) + "\n" for d in diagnostics)
    else:
        out.writelines(d.text() + "\n" for d in diagnostics)

"""The plugin's error codes, registered with mypy when the plugin is loaded.

mypy validates ``disable_error_code`` / ``enable_error_code`` (global, per-module and
inline ``# mypy:`` comments) against its registry right after loading plugins, before
any hook runs: a code created lazily with the checks would be "invalid" there, or crash
mypy applying a per-module section.
"""

from __future__ import annotations

from mypy.errorcodes import ErrorCode

from capsys.diagnostics import RULES, Checker

__all__ = ["ERROR_CODES", "PLUGIN_CODES"]

# The codes the catalogue assigns to the mypy checker.
PLUGIN_CODES = tuple(rule.code for rule in RULES if Checker.MYPY in rule.checkers)

# Creating an ErrorCode registers it in mypy's table of known codes.
ERROR_CODES: dict[str, ErrorCode] = {
    rule.code: ErrorCode(rule.code, rule.summary, "capsys")
    for rule in RULES
    if rule.code in PLUGIN_CODES
}

"""capsys' mypy plugin: the type-level capability rules (CAP001-004, 007, 008, 012) in mypy.

Enable it with ``plugins = ["mypy_plugin"]`` (``[tool.mypy]``) or ``plugins = mypy_plugin``
(``mypy.ini``); ``[tool.capsys]`` in the nearest ``pyproject.toml`` selects codes.
"""

from __future__ import annotations

from mypy.plugin import Plugin

from mypy_plugin.plugin import CapsysPlugin

__all__ = ["CapsysPlugin", "plugin"]


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point: the plugin class (one for every supported mypy version)."""
    return CapsysPlugin

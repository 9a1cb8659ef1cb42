"""``capsys lint``: the flow-sensitive capability linter, built on libcst.

A finding's path: file -> ``engine`` (pre-check, parse once, one ``context`` scan shared
by every rule, positions only for findings, suppression comments) -> ``rules/`` (one
module per code; messages from ``capsys.diagnostics``) -> ``output`` (text, json, sarif,
github) -> exit status (``cli``). Around it: ``index`` (the project index and the import
resolver), ``shapes`` (annotations -> ``capsys.sendable.Shape``), ``walk`` (a read-only
tree walk), ``files`` (discovery, excludes, .gitignore), ``runner`` (process pool) and
``cache`` (content-hash cache in ``.capsys_cache/``). ``flow`` and ``escape`` hold the
dataflow behind CAP005/CAP006 and CAP009/CAP010.
"""

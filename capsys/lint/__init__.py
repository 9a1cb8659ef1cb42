"""``capsys lint``: the flow-sensitive capability linter, built on libcst.

Layout: ``engine`` (one file: parse, scan, rules, positions), ``context`` (what rules may
ask about a file: the import resolver and the project ``index``), ``rules/`` (one module
per code), ``runner`` (many files: cache and process pool), ``files`` (discovery,
excludes, .gitignore), ``output`` (text/json/sarif/github), ``cache``, ``cli``.
"""

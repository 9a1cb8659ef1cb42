"""CAP000: a file the linter cannot parse is reported with its location; the rest are checked."""


def broken(:  # expect: CAP000
    pass

"""CAP004: Val[T] and val(x) promise deep immutability; a dict or list cannot keep it."""

from capsys import Val, val

settings: Val[dict[str, int]] = {"retries": 3}  # expect: CAP004
limits = val([1, 2, 3])  # expect: CAP004
names: Val[tuple[str, ...]] = ("ok", "fine")

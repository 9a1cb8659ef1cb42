"""CAP009: behaviours share mutable module-level state behind the runtime's back."""

from capsys import Agent, behaviour

SEEN: list[str] = []
COUNTS: dict[str, int] = {}
LIMIT = 10
total = 0


class Tracker(Agent):
    @behaviour
    def see(self, name: str) -> None:
        SEEN.append(name)  # expect: CAP009
        COUNTS[name] = COUNTS.get(name, 0) + 1  # expect: CAP009

    @behaviour
    def seen(self) -> int:
        return min(len(SEEN), LIMIT)  # expect: CAP009

    @behaviour
    def bump(self) -> None:
        global total  # expect: CAP009
        total += 1

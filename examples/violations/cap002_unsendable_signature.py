"""CAP002: behaviour parameters, return types and agent __init__ parameters must be sendable."""

from capsys import Agent, behaviour


class Cache(Agent):
    def __init__(self, store: dict[str, int]) -> None:  # expect: CAP002
        self.store = store

    @behaviour
    def put(self, items: list[int]) -> None:  # expect: CAP002
        for item in items:
            self.store[str(item)] = item

    @behaviour
    def get(self, key):  # type: ignore[no-untyped-def]  # expect: CAP002
        return self.store.get(key)

    @behaviour
    def keys(self) -> set[str]:  # expect: CAP002
        return set(self.store)

    @behaviour
    def size(self) -> int:
        return len(self.store)

"""CAP012: a value typed Any crosses a boundary; nothing proves it is sendable."""

import json
from typing import Any

from capsys import Agent, Tag, behaviour


class Store(Agent):
    @behaviour
    def put(self, item: str) -> None:
        pass


def use(store: Tag[Store], item: Any, raw: str) -> None:
    store.send(Store.put, item)  # expect: CAP012
    store.send(Store.put, json.loads(raw))  # expect: CAP012
    store.send(Store.put, "fine")

"""The diagnostic catalogue: every capability rule, written once.

The mypy plugin, the linter, the run-time errors and ``capsys rules`` / ``capsys
explain`` all read this table, so a user meets one vocabulary everywhere. Each rule has
its code, a short name, a message template (``str.format`` fields), the rationale, which
checkers report it, its default severity, and a bad and a good example program.
"""

from __future__ import annotations

import enum
import string
from dataclasses import dataclass
from typing import Final

__all__ = [
    "Checker",
    "Rule",
    "RULES",
    "Severity",
    "get_rule",
    "format_message",
    "held_agent_detail",
    "passed_agent_detail",
]


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


class Checker(str, enum.Enum):
    MYPY = "mypy"
    LINT = "lint"
    RUNTIME = "runtime"


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    message: str  # template: str.format fields documented by the rule's users
    rationale: str
    checkers: frozenset[Checker]
    severity: Severity
    bad: str
    good: str

    def format(self, **fields: object) -> str:
        """The user-facing message; every template field must be given."""
        return self.message.format(**fields)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for _, f, _, _ in string.Formatter().parse(self.message) if f)


_M, _L, _R = Checker.MYPY, Checker.LINT, Checker.RUNTIME
_HEADER = "from capsys import Agent, Iso, Tag, Val, behaviour, consume, iso, message, val\n"

RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "CAP000",
        "unreadable-file",
        "a file could not be read or parsed, so it was not checked",
        "cannot check this file: {error}",
        "The linter never imports the code it checks; it parses it. A file that is not "
        "valid UTF-8 or not valid Python cannot be parsed, so none of its rules ran. The "
        "run goes on with the other files and reports this one so it is not mistaken for "
        "a clean file.",
        frozenset({_L}),
        Severity.ERROR,
        "def broken(:\n    pass\n",
        "def fixed() -> None:\n    pass\n",
    ),
    Rule(
        "CAP001",
        "not-sendable",
        "a non-sendable value crosses an agent boundary",
        "{what} is not sendable: {detail}",
        "Only Iso (moved), Val/deeply immutable values (shared) and Tags may cross from "
        "one agent to another. Anything else stays reachable from the sender, so two "
        "agents would mutate one object concurrently: the data race that agents exist to "
        "prevent. Send an immutable value, move the object as an Iso, or send a Tag.",
        frozenset({_M, _L, _R}),
        Severity.ERROR,
        _HEADER
        + "\n\nclass Log(Agent):\n    @behaviour\n    def add(self, lines: list[str]) -> None:\n"
        "        pass\n\n\ndef use(log: Tag[Log]) -> None:\n    lines = ['a', 'b']\n"
        "    log.send(Log.add, lines)\n",
        _HEADER
        + "\n\nclass Log(Agent):\n    @behaviour\n    def add(self, lines: tuple[str, ...]) -> None:\n"
        "        pass\n\n\ndef use(log: Tag[Log]) -> None:\n    lines = ('a', 'b')\n"
        "    log.send(Log.add, lines)\n",
    ),
    Rule(
        "CAP002",
        "unsendable-signature",
        "a behaviour/agent __init__ parameter or a behaviour's return type is not sendable",
        "{what} of {owner} {detail}",
        "A behaviour's parameters and result, and an agent's __init__ parameters, are the "
        "agent's boundary: every caller must send values of those types. Declaring them "
        "sendable at the definition lets every call site be checked and documents the "
        "contract; an unannotated parameter cannot be checked at all.",
        frozenset({_M, _L}),
        Severity.ERROR,
        _HEADER
        + "\n\nclass Cache(Agent):\n    @behaviour\n    def put(self, items: list[int]) -> None:\n"
        "        pass\n",
        _HEADER
        + "\n\nclass Cache(Agent):\n    @behaviour\n    def put(self, items: tuple[int, ...]) -> None:\n"
        "        pass\n",
    ),
    Rule(
        "CAP003",
        "unsendable-message",
        "a @message field is not sendable, or a message class is not frozen",
        "{what}: {detail}",
        "A message is shared between agents without copying, which is only safe when it "
        "is deeply immutable: frozen, with every field sendable. A list field could be "
        "mutated by its sender after the send.",
        frozenset({_M, _L, _R}),
        Severity.ERROR,
        _HEADER + "\n\n@message\nclass Batch:\n    ids: list[int]\n",
        _HEADER + "\n\n@message\nclass Batch:\n    ids: tuple[int, ...]\n",
    ),
    Rule(
        "CAP004",
        "not-immutable",
        "Val[T] or val(x) where T is not deeply immutable",
        "{what} is not deeply immutable: {detail}",
        "Val promises that nothing can change the value, so it may be shared by any "
        "number of agents at once. A Val of a mutable type breaks that promise.",
        frozenset({_M, _L, _R}),
        Severity.ERROR,
        _HEADER + "\n\nsettings: Val[dict[str, int]] = {'retries': 3}\n",
        _HEADER + "\n\nsettings: Val[tuple[tuple[str, int], ...]] = (('retries', 3),)\n",
    ),
    Rule(
        "CAP005",
        "use-after-move",
        "use of an Iso (or an iso()'d local) after it was moved",
        "{name!r} is used after it was moved{where}; {hint}",
        "Sending an Iso (or passing it to consume() or iso()) hands the only reference to "
        "the receiver. The old name is dead: using it would read or write an object that "
        "another agent now owns. At run time such a use raises MovedError.",
        frozenset({_L, _R}),
        Severity.ERROR,
        _HEADER
        + "\n\nclass Sink(Agent):\n    @behaviour\n    def put(self, data: Iso[list[int]]) -> None:\n"
        "        pass\n\n\ndef use(sink: Tag[Sink]) -> None:\n    data = iso([1, 2])\n"
        "    sink.send(Sink.put, data)\n    print(data.take())\n",
        _HEADER
        + "\n\nclass Sink(Agent):\n    @behaviour\n    def put(self, data: Iso[list[int]]) -> None:\n"
        "        pass\n\n\ndef use(sink: Tag[Sink]) -> None:\n    data = iso([1, 2])\n"
        "    sink.send(Sink.put, data)\n",
    ),
    Rule(
        "CAP006",
        "iso-alias",
        "an Iso aliased without consume, or iso() of a value that is not fresh",
        "{detail}",
        "An Iso must be the only reference to its object graph. Copying the handle "
        "(b = a) makes two owners; wrapping a field, a parameter, a global or an aliased "
        "local in iso() leaves another reference behind. Use consume(a) to transfer "
        "ownership, and iso() only freshly built objects.",
        frozenset({_L}),
        Severity.ERROR,
        _HEADER + "\n\ndef make() -> Iso[list[int]]:\n    items = [1, 2]\n    alias = items\n"
        "    handle = iso(items)\n    alias.append(3)\n    return handle\n",
        _HEADER + "\n\ndef make() -> Iso[list[int]]:\n    items = [1, 2]\n    items.append(3)\n"
        "    return iso(items)\n",
    ),
    Rule(
        "CAP007",
        "agent-state-access",
        "agent state reached around a Tag",
        "{detail}",
        "An agent's state is private and touched only by its behaviours, one message at a "
        "time. Creating an agent object directly, reaching into it through a Tag, or "
        "holding another agent's object bypasses the mailbox and races with the agent.",
        frozenset({_M, _L}),
        Severity.ERROR,
        _HEADER
        + "\n\nclass Counter(Agent):\n    def __init__(self) -> None:\n        self.n = 0\n\n"
        "    @behaviour\n    def inc(self) -> None:\n        self.n += 1\n\n\n"
        "counter = Counter()\n",
        _HEADER
        + "from runtime import Runtime\n\n\nclass Counter(Agent):\n    def __init__(self) -> None:\n"
        "        self.n = 0\n\n    @behaviour\n    def inc(self) -> None:\n        self.n += 1\n\n\n"
        "async def main() -> None:\n    async with Runtime() as rt:\n        counter = rt.spawn(Counter)\n"
        "        counter.send(Counter.inc)\n",
    ),
    Rule(
        "CAP008",
        "self-escape",
        "self (the agent object) leaves the agent",
        "{detail}; send self.me (its Tag) instead",
        "self is the agent's state. Sent to another agent, passed to spawn or stored in a "
        "message, it lets others call into the agent outside its mailbox. Its Tag, "
        "self.me, is the sendable address of the same agent.",
        frozenset({_M, _L}),
        Severity.ERROR,
        _HEADER
        + "\n\nclass Worker(Agent):\n    @behaviour\n    def hello(self, boss: Tag['Boss']) -> None:\n"
        "        boss.send(Boss.register, self)  # type: ignore[arg-type]\n\n\n"
        "class Boss(Agent):\n    @behaviour\n    def register(self, worker: Tag[Worker]) -> None:\n"
        "        pass\n",
        _HEADER
        + "\n\nclass Worker(Agent):\n    @behaviour\n    def hello(self, boss: Tag['Boss']) -> None:\n"
        "        boss.send(Boss.register, self.me)\n\n\n"
        "class Boss(Agent):\n    @behaviour\n    def register(self, worker: Tag[Worker]) -> None:\n"
        "        pass\n",
    ),
    Rule(
        "CAP009",
        "shared-global",
        "a behaviour reads or writes mutable module-level state",
        "{detail}",
        "A module-level list, dict or set (or a name rebound with `global`) is shared by "
        "every agent in the process, with no mailbox in between. Keep the state in an "
        "agent and reach it through its Tag, or make the global immutable.",
        frozenset({_L}),
        Severity.ERROR,
        _HEADER + "\nSEEN: list[str] = []\n\n\nclass Tracker(Agent):\n    @behaviour\n"
        "    def see(self, name: str) -> None:\n        SEEN.append(name)\n",
        _HEADER + "\n\nclass Tracker(Agent):\n    def __init__(self) -> None:\n"
        "        self.seen: list[str] = []\n\n    @behaviour\n    def see(self, name: str) -> None:\n"
        "        self.seen.append(name)\n",
    ),
    Rule(
        "CAP010",
        "state-escapes-to-concurrency",
        "agent state escapes into code that runs concurrently with the agent",
        "{detail}",
        "A task, thread or executor job runs at the same time as the agent's next "
        "behaviours. Handing it self, a bound method of self, a field or a closure over "
        "them lets it mutate agent state concurrently. Give it immutable copies or an Iso, "
        "and report back by sending to self.me.",
        frozenset({_L}),
        Severity.ERROR,
        _HEADER + "import threading\n\n\nclass Saver(Agent):\n    def __init__(self) -> None:\n"
        "        self.rows: list[str] = []\n\n    def flush(self) -> None:\n        self.rows.clear()\n\n"
        "    @behaviour\n    def save(self) -> None:\n"
        "        threading.Thread(target=self.flush).start()\n",
        _HEADER
        + "import threading\n\n\ndef write(rows: tuple[str, ...]) -> None:\n    print(len(rows))\n\n\n"
        "class Saver(Agent):\n    def __init__(self) -> None:\n        self.rows: list[str] = []\n\n"
        "    @behaviour\n    def save(self) -> None:\n        snapshot = tuple(self.rows)\n"
        "        self.rows.clear()\n        threading.Thread(target=write, args=(snapshot,)).start()\n",
    ),
    Rule(
        "CAP011",
        "blocking-call-in-async-behaviour",
        "a blocking call inside an async behaviour",
        "{call} blocks the worker thread inside async behaviour {owner}; {hint}",
        "An async behaviour shares its worker's event loop with other agents. A blocking "
        "call (time.sleep, requests, blocking file or socket I/O) stops all of them until "
        "it returns. Use the async equivalent (await anyio.sleep, an async client) or move "
        "the call to a thread with anyio.to_thread.run_sync on immutable arguments.",
        frozenset({_L}),
        Severity.WARNING,
        _HEADER
        + "import time\n\n\nclass Poller(Agent):\n    @behaviour\n    async def poll(self) -> None:\n"
        "        time.sleep(1.0)\n",
        _HEADER
        + "import anyio\n\n\nclass Poller(Agent):\n    @behaviour\n    async def poll(self) -> None:\n"
        "        await anyio.sleep(1.0)\n",
    ),
    Rule(
        "CAP012",
        "any-crosses-boundary",
        "a value whose type is Any/unknown crosses a boundary",
        "{what} has type {type}, which cannot be proven sendable; annotate it with a sendable type",
        "The checkers cannot prove that a value of type Any is sendable, so an Any at a "
        "boundary is a hole in the checking. Give it a precise type. Projects that "
        "accept the risk can disable this code.",
        frozenset({_M}),
        Severity.ERROR,
        _HEADER + "from typing import Any\n\n\nclass Store(Agent):\n    @behaviour\n"
        "    def put(self, item: str) -> None:\n        pass\n\n\n"
        "def use(store: Tag[Store], item: Any) -> None:\n    store.send(Store.put, item)\n",
        _HEADER + "\n\nclass Store(Agent):\n    @behaviour\n"
        "    def put(self, item: str) -> None:\n        pass\n\n\n"
        "def use(store: Tag[Store], item: str) -> None:\n    store.send(Store.put, item)\n",
    ),
)

_BY_CODE: Final[dict[str, Rule]] = {r.code: r for r in RULES}
CODES: Final[tuple[str, ...]] = tuple(_BY_CODE)


def get_rule(code: str) -> Rule | None:
    """The rule for ``code`` (case-insensitive), or None."""
    return _BY_CODE.get(code.strip().upper())


def format_message(code: str, **fields: object) -> str:
    """The catalogue message for ``code`` filled with ``fields``."""
    return _BY_CODE[code].format(**fields)


# CAP007's {detail} for a field annotated to hold another agent's object: both checkers
# word it from here (fields: what holds it, the agent class).
HELD_AGENT_DETAIL: Final[str] = (
    "{what} holds an agent object ({agent}): holding another agent's object reaches "
    "its state around its mailbox; hold its Tag[{agent}] instead"
)


def held_agent_detail(what: str, agent: str) -> str:
    """CAP007's detail for ``what`` (a field) annotated to hold an ``agent`` object."""
    return HELD_AGENT_DETAIL.format(what=what, agent=agent)


# CAP007's {detail} for an agent object at a boundary (a parameter, an argument, a
# message field): both checkers word it from here.
PASSED_AGENT_DETAIL: Final[str] = (
    "{what} is an agent object ({agent}): holding another agent's object reaches its "
    "state around its mailbox; pass its Tag[{agent}] instead"
)


def passed_agent_detail(what: str, agent: str) -> str:
    """CAP007's detail for ``what`` (a parameter, argument or field) typed as an agent."""
    return PASSED_AGENT_DETAIL.format(what=what, agent=agent)

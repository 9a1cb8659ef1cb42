"""capsys runtime: an actor runtime with a work-stealing executor (SPEC §6).

``async with Runtime() as rt`` on asyncio or trio; ``runtime.run(main)`` for
synchronous callers. Agents are cells run by worker threads, not tasks: see
``runtime.cell`` (the agent cell) and ``runtime.scheduler`` (workers, stealing).
"""

from runtime.cell import Priority
from runtime.core import AgentStats, Runtime, RuntimeStats, StopHandle, default_workers, run
from runtime.deadletters import DeadLetter, DeadLetters
from runtime.errors import AgentStopped, AskTimeout, MailboxFull
from runtime.supervision import ESCALATE, RESTART, STOP, PolicyName, Supervision

__all__ = [
    "ESCALATE",
    "RESTART",
    "STOP",
    "AgentStats",
    "AgentStopped",
    "AskTimeout",
    "DeadLetter",
    "DeadLetters",
    "MailboxFull",
    "PolicyName",
    "Priority",
    "Runtime",
    "RuntimeStats",
    "StopHandle",
    "Supervision",
    "default_workers",
    "run",
]

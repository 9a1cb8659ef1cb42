"""capsys runtime: an actor runtime with a work-stealing executor (SPEC §6).

``async with Runtime() as rt`` on asyncio or trio; ``runtime.run(main)`` for
synchronous callers. Agents are cells run by worker threads, not tasks: see
``runtime.cell`` (the agent cell) and ``runtime.scheduler`` (workers, stealing).
The orchestration primitives (``runtime.primitives``), topology builders
(``runtime.topology``) and metrics (``runtime.metrics``) are re-exported here.
"""

from runtime.cell import Priority
from runtime.core import AgentStats, Runtime, RuntimeStats, StopHandle, default_workers, run
from runtime.deadletters import DeadLetter, DeadLetters
from runtime.errors import AgentStopped, AskTimeout, MailboxFull
from runtime.metrics import AgentMetrics, Metrics, to_prometheus
from runtime.primitives import (
    BroadcastResult,
    Channel,
    ChannelClosed,
    ChannelEmpty,
    ChannelFull,
    Lease,
    LeaseManager,
    LeaseRefused,
    QuorumResult,
    broadcast,
    channel,
    majority,
    quorum,
    shard,
    supermajority,
)
from runtime.supervision import ESCALATE, RESTART, STOP, PolicyName, Supervision
from runtime.topology import Topology, hierarchical, mesh, ring, star

__all__ = [
    "AgentMetrics",
    "BroadcastResult",
    "Channel",
    "ChannelClosed",
    "ChannelEmpty",
    "ChannelFull",
    "Lease",
    "LeaseManager",
    "LeaseRefused",
    "Metrics",
    "QuorumResult",
    "Topology",
    "broadcast",
    "channel",
    "hierarchical",
    "majority",
    "mesh",
    "quorum",
    "ring",
    "shard",
    "star",
    "supermajority",
    "to_prometheus",
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

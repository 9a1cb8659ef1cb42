"""Ten nodes in a mesh vote on proposals: majority and supermajority quorums, faulty and
slow nodes, timeouts, and a broadcast of each decision to every live node.

Run: python examples/quorum_consensus.py [NODES]
"""

from __future__ import annotations

import sys

import anyio

from capsys import Agent, Tag, behaviour, message
from runtime import Runtime
from runtime.primitives import broadcast, majority, quorum, supermajority
from runtime.topology import mesh


@message
class Decision:
    proposal: str
    accepted: bool
    votes_for: int


class Node(Agent):
    """Votes for a proposal when its checksum is acceptable to this node."""

    def __init__(self, faulty: bool = False, slow: bool = False) -> None:
        self.faulty = faulty
        self.slow = slow
        self.peers: tuple[Tag[Node], ...] = ()
        self.decisions: list[Decision] = []

    @behaviour
    def connect(self, peers: tuple[Tag[Node], ...]) -> None:
        self.peers = peers

    @behaviour
    async def vote(self, proposal: str, strictness: int) -> bool:
        if self.faulty:
            raise RuntimeError(f"node is faulty and cannot judge {proposal!r}")
        if self.slow:
            await anyio.sleep(2.0)  # longer than the quorum's patience
        return sum(proposal.encode()) % 10 >= strictness

    @behaviour
    def learn(self, decision: Decision) -> None:
        self.decisions.append(decision)

    @behaviour
    def decided(self) -> int:
        return len(self.decisions)


async def main(n: int = 10) -> None:
    async with Runtime() as rt:
        nodes = mesh(rt, Node, n, connect=Node.connect)
        faulty = rt.spawn(Node, True)
        slow = rt.spawn(Node, False, True)
        voters = [*nodes, faulty, slow]
        # (proposal, votes needed, how strict the nodes are): the first passes, the
        # second fails as soon as too many say no, and the third needs every vote but
        # the faulty node's, so it waits for the slow node until the timeout.
        proposals = [
            ("raise-limits", majority(len(voters)), 3),
            ("new-leader", supermajority(len(voters)), 7),
            ("upgrade-all", len(voters) - 1, 0),
        ]
        for proposal, threshold, strictness in proposals:
            result = await quorum(
                voters, threshold, Node.vote, proposal, strictness, timeout=0.5, accept=bool
            )
            print(
                f"{proposal}: {len(result.accepted)} for, {len(result.rejected)} against, "
                f"{len(result.failures)} failed, {len(result.missing)} no answer "
                f"(needed {threshold}): {'ACCEPTED' if result.reached else 'REJECTED'}"
                + (" after timeout" if result.timed_out else "")
            )
            news = Decision(proposal, result.reached, len(result.accepted))
            delivered = await broadcast(nodes, Node.learn, news, fanout=3)
            print(f"  decision reached {len(delivered.delivered)} of {len(nodes)} nodes")
        counts = [await node.ask(Node.decided) for node in nodes]
        assert counts == [len(proposals)] * len(nodes), counts
        print(f"every node learned {len(proposals)} decisions")


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 10)

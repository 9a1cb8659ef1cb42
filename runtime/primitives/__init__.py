"""The orchestration primitives of SPEC §6 (spawn and signal are ``Runtime.spawn`` and
``Tag.send``): channel, quorum, shard, leases and broadcast."""

from runtime.primitives.broadcast import BroadcastResult, broadcast
from runtime.primitives.channel import Channel, ChannelClosed, ChannelEmpty, ChannelFull, channel
from runtime.primitives.lease import Lease, LeaseManager, LeaseRefused
from runtime.primitives.quorum import QuorumResult, majority, quorum, supermajority
from runtime.primitives.shard import shard

__all__ = [
    "BroadcastResult",
    "Channel",
    "ChannelClosed",
    "ChannelEmpty",
    "ChannelFull",
    "Lease",
    "LeaseManager",
    "LeaseRefused",
    "QuorumResult",
    "broadcast",
    "channel",
    "majority",
    "quorum",
    "shard",
    "supermajority",
]

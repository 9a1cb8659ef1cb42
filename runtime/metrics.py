"""Metrics: what the runtime is doing, as a snapshot object and as Prometheus text.

The engine keeps only cheap counters (per worker, written by one thread each) and a few
sampled measurements: one send in ``SAMPLE_EVERY`` carries its enqueue time, and
``Probe.handled`` records its enqueue-to-handled latency when the message is handled;
one spawn in ``SAMPLE_EVERY`` is timed; one turn in 32 (and a cell's first turn)
measures handling time and CPU time. ``Metrics.take`` turns those into rates and
percentiles; nothing here runs unless someone asks for a snapshot.

Per-agent figures are given for the agents you name (``rt.metrics(agents=[...])``): the
runtime keeps no registry of idle agents, which is what makes an idle agent cheap.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from runtime.cell import Priority

if TYPE_CHECKING:
    from runtime.core import Runtime

__all__ = [
    "AgentMetrics",
    "LatencyHistogram",
    "Metrics",
    "SAMPLE_EVERY",
    "to_prometheus",
]

SAMPLE_EVERY = 64  # one send (and one spawn) in this many is measured; a power of two
_SUB = 4  # sub-buckets per power of two: percentiles are within about 19%


class LatencyHistogram:
    """Log-linear histogram of durations in nanoseconds (like HdrHistogram, coarser).

    ``record`` is called from worker threads on sampled messages only, so a lock is
    cheap here and keeps the counts exact.
    """

    __slots__ = ("_counts", "_lock", "count", "max_ns", "total_ns")

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self._lock = threading.Lock()
        self.count = 0
        self.total_ns = 0
        self.max_ns = 0

    @staticmethod
    def _bucket(ns: int) -> int:
        bits = ns.bit_length()
        if bits <= 2:
            return ns
        return bits * _SUB + ((ns >> (bits - 3)) & (_SUB - 1))

    @staticmethod
    def _upper(bucket: int) -> int:
        """The largest duration that falls in ``bucket``."""
        if bucket < 3 * _SUB:
            return bucket
        bits, sub = divmod(bucket, _SUB)
        return ((_SUB + sub + 1) << (bits - 3)) - 1

    def record(self, ns: int) -> None:
        bucket = self._bucket(ns)
        with self._lock:
            self._counts[bucket] = self._counts.get(bucket, 0) + 1
            self.count += 1
            self.total_ns += ns
            if ns > self.max_ns:
                self.max_ns = ns

    def percentile(self, q: float) -> float:
        """The ``q``-quantile (0..1) in seconds; 0.0 when nothing was recorded."""
        with self._lock:
            if not self.count:
                return 0.0
            rank = max(1, round(q * self.count))
            seen = 0
            for bucket in sorted(self._counts):
                seen += self._counts[bucket]
                if seen >= rank:
                    return min(self._upper(bucket), self.max_ns) / 1e9
            return self.max_ns / 1e9

    @property
    def mean(self) -> float:
        return self.total_ns / self.count / 1e9 if self.count else 0.0

    def totals(self) -> tuple[int, float]:
        """How many durations were recorded and their sum in seconds, read together."""
        with self._lock:
            return self.count, self.total_ns / 1e9


@dataclasses.dataclass(frozen=True)
class AgentMetrics:
    """One agent: totals, EMA of handling time, its rate since the last snapshot, the
    share of its handling time spent on the CPU (1.0: CPU-bound; near 0: waiting on the
    GIL or I/O), mailbox depth and priority."""

    name: str
    handled: int
    mean_handling_seconds: float
    messages_per_second: float
    cpu_intensity: float
    mailbox_depth: int
    priority: Priority
    stopped: bool


@dataclasses.dataclass(frozen=True)
class Metrics:
    """A runtime snapshot: counters, rates since the previous snapshot (or since the
    runtime started), latency percentiles in seconds, and the named agents."""

    uptime_seconds: float
    workers: int
    agents: int
    spawned: int
    stopped: int
    sent: int
    handled: int
    dead_letters: int
    restarts: int
    steals: int
    mutes: int
    handoffs: int
    max_mailbox_depth: int
    throughput: float  # messages handled per second
    spawn_latency_seconds: float  # mean over sampled spawns
    latency_p50: float  # enqueue -> handled, over sampled sends
    latency_p90: float
    latency_p99: float
    latency_max: float
    latency_samples: int
    latency_sum_seconds: float  # of the sampled latencies (a Prometheus summary's _sum)
    agent_metrics: tuple[AgentMetrics, ...] = ()

    @classmethod
    def take(cls, rt: Runtime, agents: Iterable[Any] = ()) -> Metrics:
        """Read the runtime's counters now (safe from any thread)."""
        probe = rt.probe
        now = time.monotonic()
        stats = rt.stats()
        with probe.lock:
            since, handled_before, per_agent_before = probe.last
            elapsed = max(now - since, 1e-9)
            per_agent: dict[Any, tuple[float, int]] = {}
            rows = []
            for tag in agents:
                s = rt.agent_stats(tag)
                last_time, last_handled = per_agent_before.get(tag, (since, 0))
                per_agent[tag] = (now, s.handled)
                rows.append(
                    AgentMetrics(
                        name=s.name,
                        handled=s.handled,
                        mean_handling_seconds=s.mean_handling_seconds,
                        messages_per_second=(s.handled - last_handled) / max(now - last_time, 1e-9),
                        cpu_intensity=rt.cpu_intensity(tag),
                        mailbox_depth=s.mailbox_depth,
                        priority=s.priority,
                        stopped=s.stopped,
                    )
                )
            probe.last = (now, stats.handled, {**per_agent_before, **per_agent})
        lat = probe.latency
        samples, latency_sum = lat.totals()
        return cls(
            uptime_seconds=now - probe.started,
            workers=stats.workers,
            agents=stats.agents,
            spawned=stats.spawned,
            stopped=stats.stopped,
            sent=stats.sent,
            handled=stats.handled,
            dead_letters=stats.dead_letters,
            restarts=stats.restarts,
            steals=stats.steals,
            mutes=stats.mutes,
            handoffs=stats.handoffs,
            max_mailbox_depth=stats.max_mailbox_depth,
            throughput=(stats.handled - handled_before) / elapsed,
            spawn_latency_seconds=probe.spawn.mean,
            latency_p50=lat.percentile(0.50),
            latency_p90=lat.percentile(0.90),
            latency_p99=lat.percentile(0.99),
            latency_max=lat.max_ns / 1e9,
            latency_samples=samples,
            latency_sum_seconds=latency_sum,
            agent_metrics=tuple(rows),
        )


class Probe:
    """The runtime's sampled measurements and the previous snapshot (for rates)."""

    __slots__ = ("last", "latency", "lock", "spawn", "started")

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.latency = LatencyHistogram()
        self.spawn = LatencyHistogram()
        self.lock = threading.Lock()
        self.last: tuple[float, int, Mapping[Any, tuple[float, int]]] = (self.started, 0, {})

    def handled(self, stamp: int) -> None:
        """A sampled message was handled: record its enqueue-to-handled latency. The
        stamp is its enqueue time (``perf_counter_ns``); a failed or dead-lettered
        message was not handled and records nothing."""
        self.latency.record(time.perf_counter_ns() - stamp)


_COUNTERS = (
    ("spawned", "agents spawned"),
    ("stopped", "agents stopped"),
    ("sent", "messages accepted by send/ask"),
    ("handled", "messages handled"),
    ("dead_letters", "messages that could not be delivered"),
    ("restarts", "supervision restarts"),
    ("steals", "agents stolen from another worker's run queue"),
    ("mutes", "times a sender was muted by backpressure"),
    ("handoffs", "run queues handed away from a blocked worker"),
)
_GAUGES = (
    ("workers", "worker threads"),
    ("agents", "live agents"),
    ("max_mailbox_depth", "deepest mailbox seen"),
    ("throughput", "messages handled per second since the previous snapshot"),
    ("spawn_latency_seconds", "mean spawn time over sampled spawns"),
)


def to_prometheus(metrics: Metrics, prefix: str = "capsys") -> str:
    """The snapshot in the Prometheus text exposition format (needs the ``prometheus``
    extra: ``pip install capsys[prometheus]``)."""
    if not isinstance(metrics, Metrics):
        raise TypeError(
            f"to_prometheus takes a snapshot from rt.metrics(), got {type(metrics).__name__}"
        )
    try:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    except ImportError as exc:  # pragma: no cover - exercised without the extra only
        raise ImportError(
            "Prometheus output needs prometheus-client: pip install 'capsys[prometheus]'"
        ) from exc

    class _Snapshot:
        def collect(self) -> Iterable[Any]:
            for field, doc in _COUNTERS:
                yield CounterMetricFamily(f"{prefix}_{field}", doc, value=getattr(metrics, field))
            for field, doc in _GAUGES:
                yield GaugeMetricFamily(f"{prefix}_{field}", doc, value=getattr(metrics, field))
            latency = Metric(
                f"{prefix}_message_latency_seconds",
                "enqueue to handled latency over sampled sends",
                "summary",
            )
            for q, value in (
                ("0.5", metrics.latency_p50),
                ("0.9", metrics.latency_p90),
                ("0.99", metrics.latency_p99),
                ("1", metrics.latency_max),
            ):
                latency.add_sample(latency.name, {"quantile": q}, value)
            latency.add_sample(f"{latency.name}_count", {}, metrics.latency_samples)
            latency.add_sample(f"{latency.name}_sum", {}, metrics.latency_sum_seconds)
            yield latency
            per_agent = (
                ("agent_handled", "messages handled by the agent", "handled"),
                ("agent_handling_seconds", "EMA of handling time", "mean_handling_seconds"),
                ("agent_messages_per_second", "agent message rate", "messages_per_second"),
                ("agent_cpu_intensity", "share of handling time on the CPU", "cpu_intensity"),
                ("agent_mailbox_depth", "messages waiting", "mailbox_depth"),
                ("agent_priority", "scheduling priority (0 low .. 3 critical)", "priority"),
            )
            for name, doc, field in per_agent:
                family = GaugeMetricFamily(f"{prefix}_{name}", doc, labels=["agent"])
                for agent in metrics.agent_metrics:
                    family.add_metric([agent.name], float(getattr(agent, field)))
                yield family

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot())
    return generate_latest(registry).decode()

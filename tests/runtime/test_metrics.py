"""Metrics: counters, sampled latencies, per-agent figures, and the Prometheus text."""

from __future__ import annotations

import hashlib
import logging
import random
import time

import anyio
import pytest

from capsys import Agent, Tag, behaviour
from runtime import Priority, Runtime, Supervision
from runtime.metrics import LatencyHistogram, Metrics, to_prometheus

pytestmark = pytest.mark.anyio


class Hasher(Agent):
    priority = Priority.HIGH

    def __init__(self) -> None:
        self.digest = b""

    @behaviour
    def hash(self, data: bytes) -> None:
        for _ in range(20):
            self.digest = hashlib.sha256(self.digest + data).digest()

    @behaviour
    def done(self) -> bytes:
        return self.digest


def test_histogram_percentiles_are_close() -> None:
    rng = random.Random(3)
    values = sorted(rng.randrange(1_000, 10_000_000) for _ in range(5_000))
    hist = LatencyHistogram()
    for v in values:
        hist.record(v)
    for q in (0.5, 0.9, 0.99):
        exact = values[round(q * len(values)) - 1] / 1e9
        assert exact <= hist.percentile(q) <= exact * 1.26
    assert hist.percentile(1.0) == values[-1] / 1e9
    assert hist.mean == pytest.approx(sum(values) / len(values) / 1e9)
    assert LatencyHistogram().percentile(0.5) == 0.0


async def test_snapshot_counts_and_samples() -> None:
    async with Runtime() as rt:
        agents = [rt.spawn(Hasher) for _ in range(130)]
        for i in range(2_000):
            agents[i % 4].send(Hasher.hash, b"x")
        for tag in agents[:4]:
            await tag.ask(Hasher.done)
        m = rt.metrics(agents=agents[:4])
        assert isinstance(m, Metrics)
        assert m.spawned == 130 and m.agents == 130
        assert m.handled >= 2_004 and m.sent >= m.handled
        assert m.latency_samples >= 2_000 // 64 - 1
        assert 0 < m.latency_p50 <= m.latency_p90 <= m.latency_p99 <= m.latency_max
        assert m.latency_sum_seconds <= m.latency_samples * m.latency_max
        assert m.latency_sum_seconds >= m.latency_samples * m.latency_p50 / 3  # p50: bucket top
        assert m.spawn_latency_seconds > 0
        assert m.throughput > 0 and m.uptime_seconds > 0
        assert [a.name for a in m.agent_metrics] == [rt.agent_stats(t).name for t in agents[:4]]
        for a in m.agent_metrics:
            assert a.handled == 501
            assert a.priority is Priority.HIGH
            assert a.mean_handling_seconds > 0
            assert 0 < a.cpu_intensity <= 1.0
            assert a.messages_per_second > 0
        later = rt.metrics(agents=agents[:1])  # nothing happened since: rates drop to 0
        assert later.agent_metrics[0].messages_per_second == 0
        assert later.throughput == pytest.approx(0, abs=5)


class Spinner(Agent):
    """Burns thread CPU for a fixed time (sync) or sleeps (async), and says how long."""

    @behaviour
    def spin(self, seconds: float) -> None:
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass

    @behaviour
    async def nap(self, seconds: float) -> None:
        await anyio.sleep(seconds)


async def test_handling_time_and_cpu_read_what_a_behaviour_takes() -> None:
    async with Runtime(workers=1) as rt:
        s = rt.spawn(Spinner)
        for _ in range(3):
            await s.ask(Spinner.spin, 0.03)
        spun = rt.metrics(agents=[s]).agent_metrics[0]
        n = rt.spawn(Spinner)
        for _ in range(3):
            await n.ask(Spinner.nap, 0.03)
        napped = rt.metrics(agents=[n]).agent_metrics[0]
    # CPU-bound for at least 30 ms per message: the first sample counts in full, it is
    # not averaged in from zero (that read a fifth of the truth).
    assert spun.mean_handling_seconds >= 0.03
    assert spun.cpu_intensity > 0.25  # (old: at most a fifth; wall time may run long here)
    # async behaviours are timed too (wall time, no CPU sample)
    assert napped.mean_handling_seconds >= 0.025
    assert napped.cpu_intensity == 0.0


async def test_prometheus_text_parses() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    async with Runtime() as rt:
        tag = rt.spawn(Hasher)
        for _ in range(100):
            tag.send(Hasher.hash, b"y")
        await tag.ask(Hasher.done)
        name = rt.agent_stats(tag).name
        text = to_prometheus(rt.metrics(agents=[tag]))
    families = {f.name: f for f in text_string_to_metric_families(text)}
    handled = families["capsys_handled"].samples[0].value
    assert handled >= 101
    agent = families["capsys_agent_handled"].samples[0]
    assert agent.labels == {"agent": name} and agent.value == 101
    latency = families["capsys_message_latency_seconds"]
    assert latency.type == "summary"
    quantiles = {s.labels["quantile"]: s.value for s in latency.samples if "quantile" in s.labels}
    assert set(quantiles) == {"0.5", "0.9", "0.99", "1"}
    totals = {s.name: s.value for s in latency.samples if not s.labels}
    count, total = (
        totals["capsys_message_latency_seconds_count"],
        totals["capsys_message_latency_seconds_sum"],
    )
    assert count >= 1 and 0 < total <= count * quantiles["1"]


async def test_prometheus_takes_a_metrics_snapshot_only() -> None:
    async with Runtime() as rt:
        with pytest.raises(TypeError, match=r"rt.metrics\(\), got RuntimeStats"):
            to_prometheus(rt.stats())  # type: ignore[arg-type]


def test_supervision_options_are_checked() -> None:
    with pytest.raises(TypeError, match="max_restarts must be an int"):
        Supervision("restart", 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="within must be seconds"):
        Supervision("restart", 2, "5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="within > 0"):
        Supervision("restart", 2, float("nan"))


class Fragile(Agent):
    supervision = Supervision("restart", max_restarts=1_000, within=60.0)

    @behaviour
    def fail(self) -> None:
        raise ValueError("fails on purpose")

    @behaviour
    def nap(self, seconds: float) -> None:
        time.sleep(seconds)

    @behaviour
    def ping(self) -> None:
        pass


class Flooder(Agent):
    @behaviour
    def flood(self, target: Tag[Fragile], n: int) -> None:
        for _ in range(n):
            target.send(Fragile.fail)


async def test_sampled_sends_that_fail_or_are_dead_lettered_record_no_latency(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # One send in 64 carries its enqueue time in the reply slot; a message that raised
    # or went to the dead letters was not handled and records no latency.
    caplog.set_level(logging.CRITICAL, logger="runtime")  # 400 expected tracebacks
    async with Runtime(workers=1) as rt:
        fragile = rt.spawn(Fragile)
        flooder = rt.spawn(Flooder)
        await flooder.ask(Flooder.flood, fragile, 200)  # every one raises
        await fragile.ask(Fragile.ping)  # queued behind them: all 200 were handled
        fragile.send(Fragile.nap, 0.2)
        await flooder.ask(Flooder.flood, fragile, 200)  # queued behind the nap
        await rt.stop(fragile)  # so they go to the dead letters
        m = rt.metrics()
    assert m.restarts == 200  # the first flood: each one raised
    assert m.dead_letters >= 200  # the second (and the nap, if the stop came first)
    assert m.latency_samples == 0 and m.latency_sum_seconds == 0

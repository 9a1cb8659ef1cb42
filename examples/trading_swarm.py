"""A small trading swarm: analyzers sharded by symbol turn ticks into signals, a risk
manager checks every order (large ones need a quorum of risk checkers), and an executor
fills what passed. Metrics are printed at the end.

Run: python examples/trading_swarm.py [TICKS]
"""

from __future__ import annotations

import random
import sys

import anyio

from capsys import Agent, Iso, Tag, behaviour, iso, message
from runtime import Runtime
from runtime.primitives import majority, quorum, shard

SYMBOLS = ("AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "ORCL")
LARGE = 500


@message
class Tick:
    symbol: str
    price: float


@message
class Order:
    symbol: str
    qty: int
    price: float


class Executor(Agent):
    def __init__(self) -> None:
        self.filled: list[Order] = []
        self.notional = 0.0

    @behaviour
    def fill(self, order: Order) -> None:
        self.filled.append(order)
        self.notional += order.qty * order.price

    @behaviour
    def fills(self) -> tuple[int, float]:
        return len(self.filled), round(self.notional, 2)


class RiskChecker(Agent):
    def __init__(self, limit: int) -> None:
        self.limit = limit

    @behaviour
    def approve(self, order: Order) -> bool:
        return order.qty <= self.limit


class RiskManager(Agent):
    def __init__(self, executor: Tag[Executor], checkers: tuple[Tag[RiskChecker], ...]) -> None:
        self.executor = executor
        self.checkers = checkers
        self.rejected = 0

    @behaviour
    async def submit(self, order: Order) -> None:
        if order.qty >= LARGE:
            votes = await quorum(
                self.checkers, majority(len(self.checkers)), RiskChecker.approve, order, accept=bool
            )
            if not votes.reached:
                self.rejected += 1
                return
        self.executor.send(Executor.fill, order)

    @behaviour
    def rejections(self) -> int:
        return self.rejected


class Analyzer(Agent):
    """Keeps a price history per symbol it owns and signals on momentum."""

    def __init__(self, risk: Tag[RiskManager]) -> None:
        self.risk = risk
        self.history: dict[str, list[float]] = {}

    @behaviour
    def tick(self, tick: Tick) -> None:
        prices = self.history.setdefault(tick.symbol, [])
        prices.append(tick.price)
        if len(prices) >= 3 and prices[-1] > prices[-2] > prices[-3]:
            qty = 100 * len(prices) % 900 + 10
            self.risk.send(RiskManager.submit, Order(tick.symbol, qty, tick.price))

    @behaviour
    def replay(self, batch: Iso[list[Tick]]) -> int:
        for tick in batch.take():
            self.tick(tick)
        return sum(len(p) for p in self.history.values())


async def main(ticks: int = 20_000) -> None:
    rng = random.Random(7)
    async with Runtime() as rt:
        executor = rt.spawn(Executor)
        checkers = tuple(rt.spawn(RiskChecker, limit) for limit in (600, 800, 1000, 400, 700))
        risk = rt.spawn(RiskManager, executor, checkers)
        analyzers = [rt.spawn(Analyzer, risk) for _ in range(4)]
        prices = dict.fromkeys(SYMBOLS, 100.0)
        for _ in range(ticks):
            symbol = rng.choice(SYMBOLS)
            prices[symbol] *= 1 + rng.uniform(-0.01, 0.011)
            await shard(symbol, analyzers).send_wait(Analyzer.tick, Tick(symbol, prices[symbol]))
        # A late batch for one symbol, moved (not copied) to its analyzer.
        late = [Tick("AAPL", prices["AAPL"] + i) for i in range(5)]
        seen = await shard("AAPL", analyzers).ask(Analyzer.replay, iso(late))
        print(f"the analyzer that owns AAPL has seen {seen} ticks of its symbols")
        # Mailboxes are FIFO: once every analyzer answered, their orders are queued at the
        # risk manager ahead of our ask, and once it answered, its fills at the executor.
        for analyzer in analyzers:
            await analyzer.ask(Analyzer.replay, iso([]))
        rejected = await risk.ask(RiskManager.rejections)
        fills, notional = await executor.ask(Executor.fills)
        print(
            f"orders filled: {fills} (notional {notional:,.2f}), large orders rejected: {rejected}"
        )
        stats = rt.stats()
        m = rt.metrics(agents=[risk, executor])
        print(
            f"throughput {m.throughput:,.0f} msg/s, latency p50 {m.latency_p50 * 1e6:.0f} us "
            f"p99 {m.latency_p99 * 1e6:.0f} us ({m.latency_samples} samples), "
            f"deepest mailbox {m.max_mailbox_depth}"
        )
        for a in m.agent_metrics:
            print(
                f"  {a.name}: {a.handled} handled, {a.mean_handling_seconds * 1e6:.0f} us each, "
                f"CPU intensity {a.cpu_intensity:.2f}"
            )
    print(f"messages handled: {stats.handled}, dead letters: {rt.dead_letters.count}")


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)

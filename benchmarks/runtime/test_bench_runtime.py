"""Savina-style micro-benchmarks of the runtime against a hand-written asyncio actor
(one task + ``asyncio.Queue`` per actor) measured in the same run.

Run: ``.venv/bin/python -m pytest benchmarks/runtime --benchmarks -q -s``. Every test
prints and records a ratio line (see the summary at the end); pytest-benchmark's table
shows the capsys/asyncio timings. Each number is the best of ``ROUNDS`` runs, with the
rounds of the contestants interleaved (``best_each``).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import statistics
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from benchmarks.conftest import RATIOS
from capsys import Agent, Tag, behaviour
from runtime import Runtime

ROUNDS = 9


def clean(fn: Callable[[], float]) -> float:
    """One round, started with a full garbage collection. The cyclic GC runs a full
    collection once enough objects have survived since the last one, so without this a
    round pays for whatever the previous contestant left: measured on fanout, the
    baseline's queued (tracked) messages set off a full collection in 8 of our 9 rounds,
    about 15% of each. A round still pays for every collection its own work causes."""
    gc.collect()
    return fn()


def best(fn: Callable[[], float], rounds: int = ROUNDS) -> float:
    return min(clean(fn) for _ in range(rounds))


def best_each(*fns: Callable[[], float], rounds: int = ROUNDS) -> list[float]:
    """The best round of each, with the rounds interleaved (a, b, c, a, b, c, ...): on a
    shared machine a noisy spell then hits every contestant, not just one of them."""
    times = [[clean(fn) for fn in fns] for _ in range(rounds)]
    return [min(column) for column in zip(*times, strict=True)]


def on(backend: str, fn: Callable[..., Awaitable[float]], *args: Any) -> Callable[[], float]:
    return lambda: anyio.run(fn, *args, backend=backend)


def report(name: str, line: str) -> None:
    print(f"\n{name}: {line}")
    RATIOS.append((name, line))


# ------------------------------------------------------------------ the baseline


class BaseActor:
    """The hand-written baseline: one task and one asyncio.Queue per actor."""

    def __init__(self) -> None:
        self.q: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        q = self.q
        while True:
            msg = await q.get()
            if msg is None:
                return
            fn, args, fut = msg
            result = fn(*args)
            if isinstance(result, Awaitable):
                result = await result
            if fut is not None:
                fut.set_result(result)

    def send(self, fn: Callable[..., Any], *args: Any) -> None:
        self.q.put_nowait((fn, args, None))

    async def ask(self, fn: Callable[..., Any], *args: Any) -> Any:
        fut = asyncio.get_running_loop().create_future()
        self.q.put_nowait((fn, args, fut))
        return await fut

    async def stop(self) -> None:
        self.q.put_nowait(None)
        await self.task


# ------------------------------------------------------------------- pingpong

PP = 20_000


class Ping(Agent):
    def __init__(self) -> None:
        self.left = 0

    @behaviour
    def ping(self, peer: Tag[Ping], n: int) -> None:
        if n:
            peer.send(Ping.ping, self.me, n - 1)


async def ours_pingpong(n: int, workers: int | None = None) -> float:
    async with Runtime(workers=workers) as rt:
        a, b = rt.spawn(Ping), rt.spawn(Ping)
        t = time.perf_counter()
        a.send(Ping.ping, b, 2 * n)
    return time.perf_counter() - t


async def base_pingpong(n: int) -> float:
    done = asyncio.get_running_loop().create_future()
    actors: list[BaseActor] = []

    def ping(i: int, k: int) -> None:
        if k:
            actors[1 - i].send(ping, 1 - i, k - 1)
        else:
            done.set_result(None)

    actors.extend([BaseActor(), BaseActor()])
    t = time.perf_counter()
    actors[0].send(ping, 0, 2 * n)
    await done
    dt = time.perf_counter() - t
    for a in actors:
        await a.stop()
    return dt


def test_pingpong(benchmark: Any) -> None:
    base, ours, trio = best_each(
        on("asyncio", base_pingpong, PP),
        on("asyncio", ours_pingpong, PP),
        on("trio", ours_pingpong, PP),
    )
    benchmark.pedantic(on("asyncio", ours_pingpong, PP), rounds=1, iterations=1)
    us = 1e6 / PP
    report(
        "pingpong round trip",
        f"capsys {ours * us:.2f} us, baseline {base * us:.2f} us -> {base / ours:.2f}x faster "
        f"(target >= 2x); trio {trio * us:.2f} us = {ours / trio:.2f}x asyncio (target >= 0.8)",
    )


# ------------------------------------------------------------------- counting

COUNT = 200_000
ISSUE_BASE_COUNTING = 642_000  # msg/s: the baseline when issue 4 set the targets


class Sink(Agent):
    def __init__(self) -> None:
        self.n = 0

    @behaviour
    def inc(self, k: int) -> None:
        self.n += k


class Producer(Agent):
    def __init__(self, sink: Tag[Sink]) -> None:
        self.sink = sink

    @behaviour
    def run(self, n: int) -> float:
        sink = self.sink
        t = time.perf_counter()
        for _ in range(n):
            sink.send(Sink.inc, 1)
        return time.perf_counter() - t

    @behaviour
    def run_beside_queue(self, n: int) -> tuple[float, float]:
        """n sends, and just before them n ``put_nowait`` of a bare ``asyncio.Queue`` (the
        baseline's send) on the same thread: the reference meets the same noise."""
        q: asyncio.Queue[tuple[int, int]] = asyncio.Queue()  # no loop needed to put
        t = time.perf_counter()
        for i in range(n):
            q.put_nowait((i, 1))
        put = time.perf_counter() - t
        return put, self.run(n)


SEND_COST: list[float] = []
SEND_CHUNKS: list[tuple[float, float]] = []  # (a send, a put_nowait), per chunk


async def ours_counting(n: int, workers: int | None = None) -> float:
    async with Runtime(workers=workers) as rt:
        sink = rt.spawn(Sink)
        p = rt.spawn(Producer, sink)
        t = time.perf_counter()
        SEND_COST.append(await p.ask(Producer.run, n) / n)
    return time.perf_counter() - t


STEADY_CHUNK = 500  # below the default high water (800): no backpressure, no backlog


async def ours_send_steady(n: int) -> float:
    """The cost of a send into a mailbox that stays below high water: the producer sends
    in chunks that the sink handles in between (one worker); only the sends are timed.
    Each chunk's cost per send goes to SEND_CHUNKS, with a bare put_nowait's beside it."""
    async with Runtime(workers=1) as rt:
        sink = rt.spawn(Sink)
        p = rt.spawn(Producer, sink)
        spent = 0.0
        for _ in range(n // STEADY_CHUNK):
            put, sends = await p.ask(Producer.run_beside_queue, STEADY_CHUNK)
            SEND_CHUNKS.append((sends / STEADY_CHUNK, put / STEADY_CHUNK))
            spent += sends
            await sink.ask(Sink.inc, 0)  # queued behind the chunk: the sink has drained
    return spent


async def base_counting(n: int) -> float:
    state = [0]

    def inc(k: int) -> None:
        state[0] += k

    sink = BaseActor()
    t = time.perf_counter()
    for _ in range(n):
        sink.send(inc, 1)
    await sink.stop()
    return time.perf_counter() - t


def test_counting(benchmark: Any) -> None:
    base, ours, trio = best_each(
        on("asyncio", base_counting, COUNT),
        on("asyncio", ours_counting, COUNT),
        on("trio", ours_counting, COUNT),
    )
    benchmark.pedantic(on("asyncio", ours_counting, COUNT), rounds=1, iterations=1)
    report(
        "counting",
        f"capsys {COUNT / ours / 1e3:.0f}k msg/s, baseline {COUNT / base / 1e3:.0f}k msg/s -> "
        f"{base / ours:.2f}x (target >= 2x); trio {ours / trio:.2f}x asyncio",
    )
    # The cost of a send alone: on one worker the sink cannot run (and take the GIL)
    # while the producer's loop is timed, so the loop's time is its sends.
    SEND_COST.clear()
    best(on("asyncio", ours_counting, COUNT, 1))
    backlog = min(SEND_COST)
    SEND_CHUNKS.clear()
    best(on("asyncio", ours_send_steady, COUNT), rounds=3)
    sends = sorted(c[0] for c in SEND_CHUNKS)
    puts = sorted(c[1] for c in SEND_CHUNKS)
    ratio = statistics.median(c[0] / c[1] for c in SEND_CHUNKS)
    # The issue's targets were set when the baseline counted 642k msg/s on this machine;
    # how much slower it counts now is how much slower the machine is than then.
    slower = ISSUE_BASE_COUNTING * base / COUNT
    ns = 1e9
    report(
        "send from a behaviour",
        f"{sends[0] * ns:.0f} ns per send at best, {statistics.median(sends) * ns:.0f} median "
        f"({len(sends)} chunks of {STEADY_CHUNK} into a mailbox below high water; "
        f"{backlog * ns:.0f} ns while {COUNT} pile up in one) (target <= 500); "
        f"a bare asyncio.Queue.put_nowait beside each chunk: {puts[0] * ns:.0f} at best, "
        f"{statistics.median(puts) * ns:.0f} median, so a send = {ratio:.2f}x put_nowait; "
        f"the baseline counts {slower:.2f}x slower than when the target was set "
        f"({COUNT / base / 1e3:.0f}k msg/s against {ISSUE_BASE_COUNTING / 1e3:.0f}k)",
    )


# --------------------------------------------------------------------- fanout

FAN_K = 100
FAN_ROUNDS = 1_000


class Source(Agent):
    def __init__(self, sinks: tuple[Tag[Sink], ...]) -> None:
        self.sinks = sinks

    @behaviour
    def blast(self, rounds: int) -> None:
        for _ in range(rounds):
            for s in self.sinks:
                s.send(Sink.inc, 1)


class Relay(Agent):
    def __init__(self, source: Tag[Source]) -> None:
        self.source = source

    @behaviour
    def go(self, rounds: int) -> None:
        for _ in range(rounds // 10):
            self.source.send(Source.blast, 10)


async def ours_fanout(rounds: int, workers: int | None = None) -> float:
    async with Runtime(workers=workers) as rt:
        sinks = tuple(rt.spawn(Sink) for _ in range(FAN_K))
        src = rt.spawn(Source, sinks)
        t = time.perf_counter()
        for _ in range(rounds // 10):
            src.send(Source.blast, 10)
    return time.perf_counter() - t


async def base_fanout(rounds: int) -> float:
    counts = [0] * FAN_K

    def inc(i: int) -> None:
        counts[i] += 1

    sinks = [BaseActor() for _ in range(FAN_K)]

    def blast(r: int) -> None:
        for _ in range(r):
            for i, s in enumerate(sinks):
                s.send(inc, i)

    src = BaseActor()
    t = time.perf_counter()
    for _ in range(rounds // 10):
        src.send(blast, 10)
    await src.stop()
    for s in sinks:
        await s.stop()
    return time.perf_counter() - t


def test_fanout(benchmark: Any) -> None:
    total = FAN_K * FAN_ROUNDS
    base, ours, trio = best_each(
        on("asyncio", base_fanout, FAN_ROUNDS),
        on("asyncio", ours_fanout, FAN_ROUNDS),
        on("trio", ours_fanout, FAN_ROUNDS),
    )
    benchmark.pedantic(on("asyncio", ours_fanout, FAN_ROUNDS), rounds=1, iterations=1)
    report(
        "fanout",
        f"capsys {total / ours / 1e3:.0f}k msg/s, baseline {total / base / 1e3:.0f}k msg/s -> "
        f"{base / ours:.2f}x (target >= 2x); trio {ours / trio:.2f}x asyncio",
    )


# ----------------------------------------------------------------- threadring

RING = 100
HOPS = 100_000


class Link(Agent):
    def __init__(self) -> None:
        self.next: Tag[Link] | None = None

    @behaviour
    def connect(self, nxt: Tag[Link]) -> None:
        self.next = nxt

    @behaviour
    def token(self, n: int) -> None:
        if n and self.next is not None:
            self.next.send(Link.token, n - 1)


async def ours_threadring(hops: int, workers: int | None = None) -> float:
    async with Runtime(workers=workers) as rt:
        ring = [rt.spawn(Link) for _ in range(RING)]
        for i, link in enumerate(ring):
            link.send(Link.connect, ring[(i + 1) % RING])
        await ring[0].ask(Link.token, 0)
        t = time.perf_counter()
        ring[0].send(Link.token, hops)
    return time.perf_counter() - t


async def base_threadring(hops: int) -> float:
    done = asyncio.get_running_loop().create_future()
    ring = [BaseActor() for _ in range(RING)]

    def token(i: int, n: int) -> None:
        if n:
            j = (i + 1) % RING
            ring[j].send(token, j, n - 1)
        else:
            done.set_result(None)

    t = time.perf_counter()
    ring[0].send(token, 0, hops)
    await done
    dt = time.perf_counter() - t
    for a in ring:
        await a.stop()
    return dt


def test_threadring(benchmark: Any) -> None:
    base, ours, trio = best_each(
        on("asyncio", base_threadring, HOPS),
        on("asyncio", ours_threadring, HOPS),
        on("trio", ours_threadring, HOPS),
    )
    benchmark.pedantic(on("asyncio", ours_threadring, HOPS), rounds=1, iterations=1)
    report(
        "threadring",
        f"capsys {HOPS / ours / 1e3:.0f}k msg/s, baseline {HOPS / base / 1e3:.0f}k msg/s -> "
        f"{base / ours:.2f}x (target >= 2x); trio {ours / trio:.2f}x asyncio",
    )


# ---------------------------------------------------------------------- spawn

SPAWNS = 20_000


class Idle(Agent):
    @behaviour
    def poke(self) -> None:
        pass


async def ours_spawn(n: int) -> float:
    async with Runtime() as rt:
        spawn = rt.spawn
        t = time.perf_counter()
        for _ in range(n):
            spawn(Idle)
        return time.perf_counter() - t


async def base_spawn(n: int) -> float:
    t = time.perf_counter()
    actors = [BaseActor() for _ in range(n)]
    await asyncio.sleep(0)  # let the tasks start, as a spawned actor must be able to run
    dt = time.perf_counter() - t
    for a in actors:
        a.q.put_nowait(None)
    await asyncio.gather(*(a.task for a in actors))
    return dt


def test_spawn(benchmark: Any) -> None:
    base, ours = best_each(on("asyncio", base_spawn, SPAWNS), on("asyncio", ours_spawn, SPAWNS))
    benchmark.pedantic(on("asyncio", ours_spawn, SPAWNS), rounds=1, iterations=1)
    report(
        "spawn",
        f"capsys {ours / SPAWNS * 1e6:.2f} us, baseline {base / SPAWNS * 1e6:.2f} us -> "
        f"{base / ours:.1f}x faster (target >= 10x, <= 3 us)",
    )


# ---------------------------------------------------------------- fan-in ask

CLIENTS = 100
ASKS = 200


class Server(Agent):
    def __init__(self) -> None:
        self.total = 0

    @behaviour
    def add(self, k: int) -> int:
        self.total += k
        return self.total


class Client(Agent):
    @behaviour
    async def go(self, server: Tag[Server], n: int) -> None:
        for i in range(n):
            await server.ask(Server.add, i)


async def ours_fanin(workers: int | None = None) -> float:
    async with Runtime(workers=workers) as rt:
        server = rt.spawn(Server)
        clients = [rt.spawn(Client) for _ in range(CLIENTS)]
        t = time.perf_counter()
        for c in clients:
            c.send(Client.go, server, ASKS)
    return time.perf_counter() - t


async def base_fanin() -> float:
    total = [0]

    def add(k: int) -> int:
        total[0] += k
        return total[0]

    server = BaseActor()

    async def go(n: int) -> None:
        for i in range(n):
            await server.ask(add, i)

    clients = [BaseActor() for _ in range(CLIENTS)]
    t = time.perf_counter()
    for c in clients:
        c.send(go, ASKS)
    for c in clients:
        await c.stop()
    dt = time.perf_counter() - t
    await server.stop()
    return dt


def test_fanin_ask(benchmark: Any) -> None:
    total = CLIENTS * ASKS
    base, ours, trio = best_each(
        on("asyncio", base_fanin),
        on("asyncio", ours_fanin),
        on("trio", ours_fanin),
    )
    benchmark.pedantic(on("asyncio", ours_fanin), rounds=1, iterations=1)
    report(
        "fan-in ask",
        f"capsys {total / ours / 1e3:.0f}k asks/s, baseline {total / base / 1e3:.0f}k asks/s "
        f"-> {base / ours:.2f}x (target >= 1.5x); trio {ours / trio:.2f}x asyncio",
    )


# --------------------------------------------------------------------- memory

IDLE_AGENTS = 100_000


async def ours_memory(n: int) -> float:
    async with Runtime() as rt:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        tags = [rt.spawn(Idle) for _ in range(n)]
        used = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        del tags
    return used / n


async def base_memory(n: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    actors = [BaseActor() for _ in range(n)]
    await asyncio.sleep(0)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    for a in actors:
        a.q.put_nowait(None)
    await asyncio.gather(*(a.task for a in actors))
    return used / n


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def million_idle() -> float:
    async with Runtime() as rt:
        before = _rss_kib()
        tags = [rt.spawn(Idle) for _ in range(1_000_000)]
        grown = _rss_kib() - before
        tags[-1].send(Idle.poke)
        del tags
    return grown * 1024.0


def test_memory_per_idle_agent(benchmark: Any) -> None:
    base = on("asyncio", base_memory, IDLE_AGENTS // 10)()
    ours = on("asyncio", ours_memory, IDLE_AGENTS)()
    benchmark.pedantic(on("asyncio", ours_memory, IDLE_AGENTS // 10), rounds=1, iterations=1)
    report(
        "memory per idle agent",
        f"capsys {ours:.0f} B, baseline {base:.0f} B -> {base / ours:.1f}x smaller "
        "(target <= 512 B)",
    )
    grown = on("asyncio", million_idle)()
    report(
        "1,000,000 idle agents",
        f"RSS grew {grown / 2**20:.0f} MiB (target < 1024 MiB)",
    )


# ----------------------------------------------------------- scaling on 2 workers

HASH_AGENTS = 8
HASHES = 6
MB = b"x" * (1 << 20)


class Hasher(Agent):
    @behaviour
    def digest(self) -> None:
        hashlib.sha256(MB).digest()  # releases the GIL for large buffers


async def ours_hashing(workers: int) -> float:
    async with Runtime(workers=workers) as rt:
        hashers = [rt.spawn(Hasher) for _ in range(HASH_AGENTS)]
        t = time.perf_counter()
        for _ in range(HASHES):
            for h in hashers:
                h.send(Hasher.digest)
    return time.perf_counter() - t


def plain_threads(k: int) -> float:
    """The machine's own ceiling: the same hashing on k bare threads, no runtime."""

    def work(n: int) -> None:
        for _ in range(n):
            hashlib.sha256(MB).digest()

    threads = [threading.Thread(target=work, args=(HASH_AGENTS * HASHES // k,)) for _ in range(k)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t


def test_two_worker_scaling(benchmark: Any) -> None:
    one, two = best_each(on("asyncio", ours_hashing, 1), on("asyncio", ours_hashing, 2))
    one_thread, two_threads = best_each(lambda: plain_threads(1), lambda: plain_threads(2))
    ceiling = one_thread / two_threads
    benchmark.pedantic(on("asyncio", ours_hashing, 2), rounds=1, iterations=1)
    report(
        "2 workers, sha256 over 1 MB",
        f"1 worker {one * 1e3:.0f} ms, 2 workers {two * 1e3:.0f} ms -> {one / two:.2f}x "
        f"(target >= 1.8x); 2 bare threads vs 1 on this machine now: {ceiling:.2f}x",
    )


# ------------------------------------------------------------ a stuck behaviour

STUCK_COUNT = 100_000


class Sleeper(Agent):
    @behaviour
    def stall(self, seconds: float) -> None:
        time.sleep(seconds)


async def ours_with_stuck(stuck: bool) -> float:
    async with Runtime(workers=2) as rt:
        sinks = [rt.spawn(Sink) for _ in range(4)]
        producers = [rt.spawn(Producer, s) for s in sinks]
        sleeper = rt.spawn(Sleeper)
        if stuck:
            sleeper.send(Sleeper.stall, 1.0)
            await anyio.sleep(0.01)
        t = time.perf_counter()
        for p in producers:
            await p.ask(Producer.run, STUCK_COUNT // 4)
        for s in sinks:
            await s.ask(Sink.inc, 0)
        return time.perf_counter() - t


def test_stuck_behaviour(benchmark: Any) -> None:
    free, stuck = best_each(
        on("asyncio", ours_with_stuck, False), on("asyncio", ours_with_stuck, True)
    )
    benchmark.pedantic(on("asyncio", ours_with_stuck, True), rounds=1, iterations=1)
    report(
        "one behaviour in time.sleep(1)",
        f"others keep {free / stuck * 100:.0f}% of their throughput (target >= 80%)",
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_default_worker_count_inputs(workers: int, benchmark: Any) -> None:
    """The numbers behind ``runtime.default_workers()`` on a GIL build."""
    pp, cnt, fan, fin = best_each(
        on("asyncio", ours_pingpong, PP, workers),
        on("asyncio", ours_counting, COUNT, workers),
        on("asyncio", ours_fanout, FAN_ROUNDS, workers),
        on("asyncio", ours_fanin, workers),
    )
    benchmark.pedantic(on("asyncio", ours_counting, COUNT, workers), rounds=1, iterations=1)
    report(
        f"workers={workers}",
        f"pingpong {pp / PP * 1e6:.2f} us, counting {COUNT / cnt / 1e3:.0f}k/s, fanout "
        f"{FAN_K * FAN_ROUNDS / fan / 1e3:.0f}k/s, fan-in {CLIENTS * ASKS / fin / 1e3:.0f}k/s",
    )

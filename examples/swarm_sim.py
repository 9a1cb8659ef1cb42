"""Thousands of agents step a particle simulation. Each agent owns a block of particles
held data-oriented (flat ``array`` columns, not one object per particle); blocks cross
agent boundaries only as ``Iso`` (moved, never shared) and summaries as immutable
values. Halfway, the whole swarm is snapshotted, stopped, and restored from the snapshot
into fresh agents, which must carry on exactly where the old ones stopped.

Run: python examples/swarm_sim.py [AGENTS] [STEPS]
"""

from __future__ import annotations

import math
import sys
from array import array

import anyio

from capsys import Agent, Iso, Tag, behaviour, iso, message
from runtime import Runtime

PER_AGENT = 16


@message
class Summary:
    count: int
    energy: float
    centre: float


class Block(Agent):
    """A block of particles: positions and velocities as two flat float columns."""

    def __init__(self, state: Iso[array[float]]) -> None:
        columns = state.take()
        half = len(columns) // 2
        self.x = columns[:half]
        self.v = columns[half:]
        self.steps = 0

    @behaviour
    def step(self, dt: float) -> Summary:
        x, v = self.x, self.v
        for i in range(len(x)):
            v[i] -= x[i] * dt  # a spring towards 0: energy is (almost) conserved
            x[i] += v[i] * dt
        self.steps += 1
        energy = 0.5 * sum(vi * vi + xi * xi for xi, vi in zip(x, v, strict=True))
        return Summary(len(x), energy, sum(x) / len(x))

    @behaviour
    def snapshot(self) -> Iso[array[float]]:
        """A fresh copy of the block's columns, handed over whole."""
        return iso(array("d", [*self.x, *self.v]))


def initial_state(index: int) -> Iso[array[float]]:
    xs = [math.sin(index * PER_AGENT + i) for i in range(PER_AGENT)]
    vs = [math.cos(index * PER_AGENT + i) for i in range(PER_AGENT)]
    return iso(array("d", xs + vs))


async def step_all(blocks: list[Tag[Block]], dt: float) -> float:
    energies = [0.0] * len(blocks)

    async def one(i: int, block: Tag[Block]) -> None:
        energies[i] = (await block.ask(Block.step, dt)).energy

    async with anyio.create_task_group() as tg:
        for i, block in enumerate(blocks):
            tg.start_soon(one, i, block)
    return sum(energies)


async def main(agents: int = 2_000, steps: int = 10) -> None:
    dt = 0.01
    async with Runtime() as rt:
        blocks = [rt.spawn(Block, initial_state(i)) for i in range(agents)]
        energy = 0.0
        for _ in range(steps // 2):
            energy = await step_all(blocks, dt)
        print(f"{agents} agents x {PER_AGENT} particles, step {steps // 2}: energy {energy:.6f}")

        snapshot = [await block.ask(Block.snapshot) for block in blocks]
        for block in blocks:
            await rt.stop(block)
        blocks = [rt.spawn(Block, state) for state in snapshot]  # each Iso moves into its agent
        print(f"restored {len(blocks)} agents from the snapshot")

        for _ in range(steps - steps // 2):
            energy = await step_all(blocks, dt)
        print(f"step {steps}: energy {energy:.6f}")
        print(f"dead letters: {rt.dead_letters.count}")


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:3]]
    anyio.run(lambda: main(*numbers))

"""Every example in examples/ runs to completion, with small sizes, and prints what it
promises (nothing lost, every node informed, the restored swarm carries on)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_agent_tasks_loses_nothing() -> None:
    out = run("agent_tasks.py", "3000", "4")
    assert "3000 of 3000 tasks completed, 0 lost" in out


def test_quorum_consensus_decides_and_informs_every_node() -> None:
    out = run("quorum_consensus.py", "10")
    assert re.search(r"raise-limits: .*ACCEPTED", out)
    assert re.search(r"new-leader: .*REJECTED", out)
    assert re.search(r"upgrade-all: 10 for, .*1 no answer .*REJECTED after timeout", out)
    assert out.count("decision reached 10 of 10 nodes") == 3
    assert "every node learned 3 decisions" in out


def test_trading_swarm_fills_orders_without_dead_letters() -> None:
    out = run("trading_swarm.py", "3000")
    fills = re.search(r"orders filled: (\d+)", out)
    assert fills is not None and int(fills.group(1)) > 0
    assert "dead letters: 0" in out


def test_swarm_sim_restores_and_conserves_energy() -> None:
    out = run("swarm_sim.py", "300", "6")
    energies = [float(e) for e in re.findall(r"energy (\d+\.\d+)", out)]
    assert "restored 300 agents from the snapshot" in out
    assert len(energies) == 2 and energies[1] == pytest.approx(energies[0], rel=1e-3)
    assert "dead letters: 0" in out

"""Ctrl-C: the runtime shuts down gracefully (on_stop runs, threads end) on both backends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from runtime import Runtime

SCRIPT = textwrap.dedent(
    """
    import signal
    import sys
    import anyio
    import runtime
    from capsys import Agent, behaviour
    from runtime import Runtime

    class Ticker(Agent):
        def __init__(self) -> None:
            self.n = 0

        @behaviour
        def tick(self) -> None:
            self.n += 1

        @behaviour
        async def slow(self) -> None:
            await anyio.sleep(0.05)

        def on_stop(self) -> None:
            print("on_stop ran", flush=True)

    async def main() -> None:
        async with Runtime(workers=2) as rt:
            t = rt.spawn(Ticker)
            t.send(Ticker.tick)
            if sys.argv[2] == "drain":  # the body ends; leaving it handles these (20 s)
                for _ in range(400):
                    t.send(Ticker.slow)
                print("ready", flush=True)
                return
            print("ready", flush=True)
            await anyio.sleep(60)

    # As in a terminal, even when the test run itself was started in the background
    # (a shell without job control starts those with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        runtime.run(main, backend=sys.argv[1])
    except KeyboardInterrupt:
        import threading
        print("interrupted; threads left:", threading.active_count() - 1, flush=True)
        sys.exit(130)
    """
)


@pytest.mark.parametrize("phase", ["body", "drain"])
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ctrl_c_shuts_down_gracefully(backend: str, phase: str) -> None:
    # In the drain that leaving ``async with`` does, Ctrl-C gets past its shield (a
    # native cancel on asyncio, KeyboardInterrupt on trio): it used to skip on_stop and
    # leave the worker threads running.
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, backend, phase],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    if phase == "drain":
        time.sleep(0.5)  # well into the drain
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "on_stop ran" in out
    assert "interrupted; threads left: 0" in out


def _wakeup_fd() -> int:
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return fd


@pytest.mark.anyio
async def test_a_signal_wakes_the_callers_loop_while_the_runtime_runs() -> None:
    # Without a wakeup fd, a Ctrl-C that lands on a worker thread (or just before the
    # main thread enters select) leaves asyncio's main loop asleep with the handler
    # pending. Trio keeps its own wakeup fd; on asyncio the runtime sets one, and puts
    # back what was there when it exits.
    before = _wakeup_fd()
    async with Runtime(workers=1):
        assert _wakeup_fd() != -1
    assert _wakeup_fd() == before

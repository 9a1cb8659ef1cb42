"""The backend adapters (``runtime.backends``): what the scheduler relies on."""

from __future__ import annotations

import asyncio
import contextlib

import anyio
import pytest

from runtime.backends import AsyncioLoop

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_task_cancelled_before_its_first_step_still_runs_its_handlers() -> None:
    # An async behaviour's task dispatched in the turn that sees the shutdown is
    # cancelled before asyncio ran it: its handler (dead-letter the message, stop the
    # agent, run on_stop) was skipped, and the message was lost without a count.
    loop = AsyncioLoop()
    seen: list[str] = []

    async def behaviour() -> None:
        seen.append("started")
        try:
            await anyio.sleep(10)
        except anyio.get_cancelled_exc_class():
            seen.append("cancelled")
            raise

    loop.start(behaviour)
    loop.cancel_tasks()  # in the same step that started it, as the worker does
    for task in list(loop.tasks):
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert seen == ["started", "cancelled"]
    assert not loop.tasks

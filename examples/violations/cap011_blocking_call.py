"""CAP011: a blocking call inside an async behaviour stalls its worker thread."""

import subprocess
import time

import anyio

from capsys import Agent, behaviour


class Poller(Agent):
    @behaviour
    async def poll(self) -> None:
        time.sleep(1.0)  # expect: CAP011
        subprocess.run(["true"], check=True)  # expect: CAP011
        await anyio.sleep(1.0)

    @behaviour
    def tick(self) -> None:
        time.sleep(0.01)

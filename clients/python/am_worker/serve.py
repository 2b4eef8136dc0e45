"""Serving until a signal: what a worker process does between start and a graceful stop."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, List

if TYPE_CHECKING:
    from .worker import Worker


def serve(worker: "Worker") -> int:
    """Starts `worker`, waits for SIGTERM/SIGINT or a refusal, stops it (bounded). Main thread only.

    Returns 0 after a graceful stop, 1 when the server refused the agent.
    """
    wake = threading.Event()
    signalled: List[str] = []

    def on_signal(number: int, _frame: object) -> None:
        if not signalled:
            signalled.append(signal.Signals(number).name)
        wake.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        worker.start()
        # A timed wait: the signal handler runs promptly on every Python version, and a refusal (seen by
        # a worker thread) is noticed within a fifth of a second.
        while not wake.wait(0.2) and worker.refused is None:
            pass
        if signalled:
            worker.log(f"{signalled[0]}: finishing in-flight work, releasing the rest")
        worker.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if worker.refused is not None else 0

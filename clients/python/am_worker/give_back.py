"""Giving claims back: releases, and ending a claim request whose answer nobody will wait for."""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterable, Set

from .client import AmClient
from .errors import AmError
from .model import Claim


class GiveBack:
    """Releases a claim at most once, retried until the worker's stop deadline (10 s when not stopping)."""

    def __init__(
        self,
        client: AmClient,
        capabilities: Iterable[str],
        stop_deadline: Callable[[], float],
        count: Callable[[str], None],
        log: Callable[[str], None],
        warn: Callable[[str], None],
    ) -> None:
        self._client = client
        self._capabilities = tuple(capabilities)
        self._stop_deadline = stop_deadline
        self._count = count
        self._log = log
        self._warn = warn
        self._lock = threading.Lock()
        # A claim may reach two givers-back at once (a slot and stop()): the second does nothing.
        self._released: Set[str] = set()

    def release(self, claim: Claim, reason: str) -> None:
        with self._lock:
            if claim.claim_token in self._released:
                return
            self._released.add(claim.claim_token)
        task = claim.task
        try:
            self._client.release(task.id, task.graph_id, claim.claim_token, reason, deadline=self._deadline())
        except AmError as error:
            self._warn(f"releasing {task.graph_id}/{task.id} failed: {error} (its lease will expire)")
            return
        self._count("released")
        self._log(f"released {task.graph_id}/{task.id}: {reason}")

    def end_claim(self, request_id: str) -> None:
        """Asks again by `request_id` with `waitMs: 0`: that ends its long-poll on the server (answered 204)
        and hands back a claim it may already have made (its reply lost, or not yet read): released."""
        try:
            claim = self._client.claim(request_id, self._capabilities, 0, deadline=self._deadline())
        except AmError:
            return  # Its lease will expire and the task will be offered again.
        if claim is not None:
            self._count("claimed")
            self.release(claim, "worker shutting down")

    def _deadline(self) -> Callable[[], float]:
        fixed = time.time() + 10.0
        return lambda: min(self._stop_deadline(), fixed)

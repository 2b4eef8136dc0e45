"""One background thread renews every held lease in one pass, each at a third of its `leaseMs`."""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional, Set

from .client import AmClient
from .errors import AmError, ApiError
from .model import Claim, parse_time

#: No claim is beaten more often than this (seconds), whatever its lease.
MIN_PERIOD = 1.0


class Held:
    """A claim in hand, from the claim until its result is acknowledged (or it is given up)."""

    def __init__(self, claim: Claim) -> None:
        self.claim = claim
        self.lock = threading.Lock()
        #: running → submitting → done, or running → released (the worker gave it back while stopping).
        self.state = "running"
        #: Set when the handler should stop: graph cancelled, claim lost, or released at shutdown.
        self.cancelled = threading.Event()
        #: Why the result will not be submitted: "cancelled" or "lost" (None: it will be).
        self.stop_reason: Optional[str] = None
        self.lease_end = parse_time(claim.lease_until)
        self.period = max(MIN_PERIOD, claim.lease_ms / 3000)
        self.next_beat = time.monotonic() + self.period
        self.steps = 0

    def give_up(self, reason: str) -> None:
        with self.lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        self.cancelled.set()


class Leases:
    """The heartbeat thread. `add` a claim when it is taken, `remove` it once its result is answered."""

    def __init__(
        self,
        client: AmClient,
        on_refused: Callable[[ApiError], None],
        log: Callable[[str], None],
    ) -> None:
        self._client = client
        self._on_refused = on_refused
        self._log = log
        self._held: Set[Held] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="am-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        self._wake.set()

    def add(self, held: Held) -> None:
        with self._lock:
            self._held.add(held)
        self._wake.set()

    def remove(self, held: Held) -> None:
        with self._lock:
            self._held.discard(held)

    def snapshot(self) -> Set[Held]:
        with self._lock:
            return set(self._held)

    def _run(self) -> None:
        while not self._closed.is_set():
            now = time.monotonic()
            soonest = now + MIN_PERIOD
            for held in self.snapshot():
                if held.next_beat <= now:
                    self._beat(held)
                    held.next_beat = time.monotonic() + held.period
                soonest = min(soonest, held.next_beat)
            self._wake.wait(max(0.05, soonest - time.monotonic()))
            self._wake.clear()

    def _beat(self, held: Held) -> None:
        claim = held.claim
        try:
            reply = self._client.heartbeat(claim.task.id, claim.task.graph_id, claim.claim_token)
        except ApiError as error:
            if error.refused:
                self._on_refused(error)
            elif error.status in (403, 409):
                # Not our claim any more (stale, another agent's, the graph finished): stop the work.
                held.give_up("lost")
            return
        except AmError:
            return  # The server is away: the next beat tries again; the lease has two more periods.
        if reply and reply.get("leaseUntil"):
            held.lease_end = max(held.lease_end, parse_time(reply["leaseUntil"]))
        if reply and reply.get("cancelled"):
            held.give_up("cancelled")

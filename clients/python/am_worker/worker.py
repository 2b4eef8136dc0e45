"""Worker: claim → handle → heartbeat → submit, `concurrency` threads at once, with a graceful stop.

Each slot thread long-polls a claim, runs the handler in that thread and submits the result, asking in
the same request for the next task (`next`, as the TypeScript worker does). One background thread beats
every held lease (leases.py). `stop()` stops claiming, ends the long-polls still waiting, gives running
tasks a grace period to finish, releases the rest, and returns within `grace + release` seconds even
when the server is gone or a handler ignores `context.cancelled`.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from .client import AmClient
from .errors import AmError, ApiError, NetworkError
from .give_back import GiveBack
from .leases import Held, Leases
from .model import Claim, Result, Step, Task, TaskContext, as_result
from .offline import offline_handler
from .serve import serve

Handler = Callable[[Task, TaskContext], Result]
Log = Callable[[str], None]


def _quiet(_line: str) -> None:
    return None


class Worker:
    """Runs `handler(task, context)` on the tasks an agent may claim. See the module docstring."""

    def __init__(
        self,
        client: AmClient,
        handler: Handler = offline_handler,
        *,
        concurrency: int = 1,
        capabilities: Iterable[str] = (),
        claim_wait_ms: int = 20_000,
        grace: float = 5.0,
        release_within: float = 3.0,
        log: Log = _quiet,
        warn: Log = _quiet,
        on_refused: Optional[Callable[[ApiError], None]] = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.client = client
        self.handler = handler
        self.concurrency = concurrency
        self.capabilities = tuple(capabilities)
        self.claim_wait_ms = max(0, min(claim_wait_ms, 30_000))
        #: On stop: how long running tasks may finish before they are released (seconds).
        self.grace = grace
        #: On stop, after the grace: how long releasing and submitting may still take (seconds).
        self.release_within = release_within
        self._log = log
        self._warn = warn
        self._on_refused = on_refused
        #: The refusal (401, or 403 AM_ERR_AUTH_FORBIDDEN) that stopped the worker, if one did.
        self.refused: Optional[ApiError] = None
        self.stats = {"claimed": 0, "completed": 0, "failed": 0, "released": 0, "dropped": 0}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._stop_started = False
        self._stop_deadline = float("inf")
        #: The requestId each slot is long-polling with now: stop() ends those long-polls.
        self._polling: Dict[int, str] = {}
        #: The task each slot is running or submitting now.
        self._active: Dict[int, Held] = {}
        self._slots: List[threading.Thread] = []
        self._claim_trouble = False
        self._leases = Leases(client, self._refuse, warn)
        self._give_back = GiveBack(client, self.capabilities, lambda: self._stop_deadline, self._count, log, warn)

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._slots:
            return
        self._leases.start()
        for index in range(self.concurrency):
            thread = threading.Thread(target=self._slot, args=(index,), name=f"am-slot-{index}", daemon=True)
            self._slots.append(thread)
            thread.start()

    def log(self, line: str) -> None:
        self._log(line)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Idempotent; returns within `grace + release_within` seconds (plus one request's timeout)."""
        with self._lock:
            if self._stop_started:
                already = True
            else:
                already = False
                self._stop_started = True
                self._stop_deadline = time.time() + self.grace + self.release_within
                self._stopping.set()
                polling = list(self._polling.values())
        if already:
            self._stopped.wait(self.grace + self.release_within + self.client.timeout)
            return
        try:
            # A long-poll abandoned now may already have claimed a task server-side: asking again by its
            # requestId ends the long-poll (it answers 204) and hands back such a claim, to release.
            grace_end = self._stop_deadline - self.release_within
            for request_id in polling:
                self._give_back.end_claim(request_id)
            nudge_at = time.time() + 0.25
            while time.time() < grace_end and any(thread.is_alive() for thread in self._slots):
                if time.time() >= nudge_at:
                    # A long-poll that reached the server after its ending request still waits: end it again.
                    with self._lock:
                        polling = list(self._polling.values())
                    for request_id in polling:
                        self._give_back.end_claim(request_id)
                    nudge_at = time.time() + 0.25
                time.sleep(0.02)
            if any(thread.is_alive() for thread in self._slots):
                for held in self._leases.snapshot():
                    with held.lock:
                        give_back = held.state == "running"
                        if give_back:
                            held.state = "released"
                    if give_back:
                        held.give_up("shutdown")
                        self._leases.remove(held)
                        self._give_back.release(held.claim, "worker shutting down: the task did not finish in time")
                # Results on their way get until the deadline; a handler that ignores `cancelled` is left
                # behind (its thread is a daemon, and its task was released).
                while time.time() < self._stop_deadline and self._busy_slots():
                    time.sleep(0.05)
        finally:
            self._leases.close()
            self._stopped.set()

    def _busy_slots(self) -> bool:
        """Whether a slot still has something to finish: a result to submit, a claim to give back."""
        for index, thread in enumerate(self._slots):
            if not thread.is_alive():
                continue
            held = self._active.get(index)
            if held is None or held.state != "released":
                return True
        return False

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks until stop() finished; True when it did."""
        return self._stopped.wait(timeout)

    def run(self) -> int:
        """Starts, serves until SIGTERM/SIGINT or a refusal, stops gracefully. Call it from the main thread.

        Returns 0 after a graceful stop, 1 when the server refused the agent (revoked, rotated, wrong token).
        """
        return serve(self)

    # -- one slot ------------------------------------------------------------------------------------

    def _slot(self, index: int) -> None:
        handed: Optional[Claim] = None
        # Kept until the claim is answered: a request whose reply was lost is asked again by the same id
        # and gets that claim, instead of leaving the task held by nobody until its lease runs out.
        ask_again: Optional[str] = None
        failures = 0
        while not self._stopping.is_set():
            claim = handed
            handed = None
            if claim is None:
                request_id = ask_again or str(uuid.uuid4())
                ask_again = None
                with self._lock:
                    if self._stopping.is_set():
                        ask_again = request_id
                        break
                    self._polling[index] = request_id
                try:
                    claim = self.client.claim(
                        request_id, self.capabilities, self.claim_wait_ms, stop=self._stopping
                    )
                    failures = 0
                    if self._claim_trouble:
                        self._claim_trouble = False
                        self._log(f"{self.client.server_url} answers again")
                except (ApiError, NetworkError) as error:
                    if error.refused:
                        self._refuse(error)  # type: ignore[arg-type]  # only an ApiError is refused
                        return
                    # Unanswered (unreachable, 5xx): ask again by the same id; anything else was answered.
                    ask_again = request_id if error.retryable else None
                    failures += 1
                    self._claim_failed(error)
                    self._stopping.wait(min(0.2 * 2**failures, 5.0))
                    continue
                finally:
                    with self._lock:
                        self._polling.pop(index, None)
                if claim is None:
                    continue
            self._count("claimed")
            task = claim.task
            if self._stopping.is_set():
                self._give_back.release(claim, "worker shutting down")
                continue
            self._log(f"claimed {task.graph_id}/{task.id} (attempt {task.attempt}, cycle {task.cycle})")
            handed, ask_again = self._run(index, claim)
        # Stopped between asking for the next task and getting it: give it back for another worker.
        if handed is not None:
            self._give_back.release(handed, "worker shutting down")
        elif ask_again is not None and self.refused is None:
            self._give_back.end_claim(ask_again)

    def _claim_failed(self, error: AmError) -> None:
        """Says so once per outage, not at every retry; every other failure each time."""
        if self._stopping.is_set():
            return
        retryable = getattr(error, "retryable", False)
        if not retryable or not self._claim_trouble:
            suffix = " (retrying until it answers)" if retryable else ""
            self._warn(f"claim failed: {error}{suffix}")
        if retryable:
            self._claim_trouble = True

    def _run(self, index: int, claim: Claim) -> Tuple[Optional[Claim], Optional[str]]:
        """Runs one task to its end: (the next claim handed over with the result, or the requestId of the
        next claim asked for and not answered — the slot asks again by that id)."""
        task = claim.task
        held = Held(claim)
        self._active[index] = held
        self._leases.add(held)
        try:
            context = claim.task_context(held.cancelled, lambda step: self._progress(held, step))
            try:
                result = as_result(self.handler(task, context))
                body = result.to_body()
            except Exception as error:  # noqa: BLE001 - a failing handler is a retryable failure
                body = Result.failed(f"{type(error).__name__}: {error}", retryable=True).to_body()
            with held.lock:
                if held.state == "released":
                    return None, None
                held.state = "submitting"
                reason = held.stop_reason
            if reason == "cancelled":
                self._count("dropped")
                self._log(f"stopped {task.graph_id}/{task.id}: the graph was cancelled; result dropped")
                return None, None
            if reason == "lost":
                self._count("dropped")
                self._log(f"lost {task.graph_id}/{task.id}: the claim is no longer ours; result dropped")
                return None, None
            return self._submit(held, body)
        finally:
            self._leases.remove(held)
            with held.lock:
                if held.state != "released":
                    held.state = "done"
            self._active.pop(index, None)

    def _submit(self, held: Held, body: Dict) -> Tuple[Optional[Claim], Optional[str]]:
        claim = held.claim
        task = claim.task
        next_id = None if self._stopping.is_set() else str(uuid.uuid4())
        full = {"graphId": task.graph_id, "taskId": task.id, "claimToken": claim.claim_token, **body}
        if next_id is not None:
            full["next"] = {"requestId": next_id}
            if self.capabilities:
                full["next"]["capabilities"] = list(self.capabilities)
        lease_s = claim.lease_ms / 1000
        # A restarted server gives held claims one lease of grace, so a result may still land up to a
        # lease after the last known end; a stopping worker gives up at its stop deadline.
        deadline = lambda: min(held.lease_end + lease_s, self._stop_deadline)  # noqa: E731
        try:
            reply = self.client.submit_result(full, deadline=deadline)
        except ApiError as error:
            if error.refused:
                self._refuse(error)
                return None, None
            if error.status == 409 or error.claim_gone:
                self._count("dropped")
                self._log(f"dropped the result of {task.graph_id}/{task.id}: {error.code}")
            elif error.status in (400, 413) and body["status"] == "completed":
                # An output the server cannot take (too large, invalid): say so as a failure, so the task is
                # tried again now rather than after its lease runs out.
                self._warn(f"the server refused the result of {task.graph_id}/{task.id}: {error}")
                message = f"the server refused the result: {error.code}: {error.detail}"
                return self._submit(held, Result.failed(message, retryable=True).to_body())
            else:
                self._warn(f"submitting {task.graph_id}/{task.id} failed: {error}")
            return None, next_id
        except NetworkError as error:
            self._warn(f"submitting {task.graph_id}/{task.id} failed: {error}")
            return None, next_id
        if body["status"] == "completed":
            self._count("completed")
            self._log(f"completed {task.graph_id}/{task.id}")
        else:
            self._count("failed")
            self._log(f"failed {task.graph_id}/{task.id}: {body.get('error', {}).get('message', '')}")
        nxt = (reply or {}).get("next")
        if nxt:
            return Claim.from_json(nxt), None
        return None, next_id

    # -- helpers -------------------------------------------------------------------------------------

    def _progress(self, held: Held, step: Step) -> None:
        with held.lock:
            index = held.steps
            held.steps += 1
            if held.state != "running":
                return
        claim = held.claim
        try:
            self.client.progress(claim.task.id, claim.task.graph_id, claim.claim_token, step, index)
        except AmError:
            pass  # Progress is a live view; the result carries every step.

    def _count(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1

    def _refuse(self, error: ApiError) -> None:
        with self._lock:
            first = self.refused is None
            if first:
                self.refused = error
        if not first:
            return
        # No retry will be accepted: stop claiming; running work cannot be submitted either (the manager
        # releases a revoked agent's claims).
        self._stopping.set()
        self._warn(f"the server refused this agent ({error.code}: {error.detail}); stopping")
        if self._on_refused is not None:
            self._on_refused(error)

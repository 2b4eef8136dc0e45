"""AmClient: the worker routes of the AM HTTP API (docs/http-api.md) over httpx, with retries.

Every worker call is idempotent on the server (claims by requestId, results by claim token, heartbeats
and releases by token), so a call that failed for want of an answer (connection refused, a timeout, a
5xx, a rate limit) is simply sent again, with the same body, after a backoff. Anything else is raised
as an ApiError carrying the problem+json `code`.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Iterable, Optional
from urllib.parse import quote

import httpx

from .errors import ApiError, NetworkError
from .model import Claim, Step

#: The longest a claim may long-poll (the server's cap).
MAX_WAIT_MS = 30_000

Deadline = Callable[[], float]
"""Returns the epoch time after which no retry starts; read before every retry, so it may move."""


class AmClient:
    """One agent's HTTP client. Thread-safe: the worker's threads share one instance."""

    def __init__(
        self,
        server_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        base_delay: float = 0.2,
        max_delay: float = 5.0,
        transport: Optional[httpx.BaseTransport] = None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        #: Per request, on top of a claim's long-poll.
        self.timeout = timeout
        self.base_delay = base_delay
        self.max_delay = max_delay
        options: Dict[str, Any] = {} if transport is None else {"transport": transport}
        self._http = httpx.Client(
            base_url=self.server_url,
            headers={"authorization": f"Bearer {token}", "user-agent": "am-worker-python"},
            **options,
        )

    def close(self) -> None:
        self._http.close()

    # -- worker routes -------------------------------------------------------------------------------

    def claim(
        self,
        request_id: str,
        capabilities: Iterable[str] = (),
        wait_ms: int = 0,
        *,
        attempts: int = 6,
        deadline: Optional[Deadline] = None,
        stop: Optional[threading.Event] = None,
    ) -> Optional[Claim]:
        """One READY task, or None when none came within `wait_ms` (0-30000).

        A retry carries the same `request_id`, so a claim whose reply was lost is handed back instead of
        a second task being claimed. The caller keeps the id until it has an answer (see Worker).
        """
        body: Dict[str, Any] = {"requestId": request_id, "waitMs": max(0, min(int(wait_ms), MAX_WAIT_MS))}
        caps = list(capabilities)
        if caps:
            body["capabilities"] = caps
        reply = self._call(
            "/v1/tasks/claim",
            body,
            attempts=attempts,
            deadline=deadline,
            stop=stop,
            extra_timeout=body["waitMs"] / 1000,
        )
        return None if reply is None else Claim.from_json(reply)

    def heartbeat(self, task_id: str, graph_id: str, claim_token: str, *, attempts: int = 3) -> Dict[str, Any]:
        """Extends the lease: `{leaseUntil, cancelled}`; `cancelled: true` means stop and drop the task."""
        return self._call(
            f"/v1/tasks/{_quote(task_id)}/heartbeat",
            {"graphId": graph_id, "claimToken": claim_token},
            attempts=attempts,
        )

    def progress(
        self, task_id: str, graph_id: str, claim_token: str, step: Step, index: Optional[int] = None
    ) -> Dict[str, Any]:
        body: Dict[str, Any] = {"graphId": graph_id, "claimToken": claim_token, "step": step}
        if index is not None:
            body["index"] = index
        return self._call(f"/v1/tasks/{_quote(task_id)}/progress", body, attempts=3)

    def release(
        self,
        task_id: str,
        graph_id: str,
        claim_token: str,
        reason: Optional[str] = None,
        *,
        deadline: Optional[Deadline] = None,
    ) -> Dict[str, Any]:
        """Gives the task back: READY again at once, no attempt used."""
        body: Dict[str, Any] = {"graphId": graph_id, "claimToken": claim_token}
        if reason is not None:
            body["reason"] = reason
        return self._call(f"/v1/tasks/{_quote(task_id)}/release", body, deadline=deadline)

    def submit_result(
        self,
        body: Dict[str, Any],
        *,
        attempts: int = 10,
        deadline: Optional[Deadline] = None,
    ) -> Dict[str, Any]:
        """POST /v1/results: `{seq, next?}`. The same body sent again gets the same 202 (and `next`)."""
        return self._call("/v1/results", body, attempts=attempts, deadline=deadline)

    # -- plumbing ------------------------------------------------------------------------------------

    def _call(
        self,
        path: str,
        body: Dict[str, Any],
        *,
        attempts: int = 6,
        deadline: Optional[Deadline] = None,
        stop: Optional[threading.Event] = None,
        extra_timeout: float = 0.0,
    ) -> Any:
        """Sends until answered, a failure that is not retryable, `attempts` (or `deadline`), or `stop`."""
        delay = self.base_delay
        attempt = 0
        while True:
            attempt += 1
            timeout = self.timeout + extra_timeout
            if deadline is not None:
                # Even past its deadline a call gets one fair try (a result after a long task).
                timeout = min(timeout, max(2.0, deadline() - time.time()))
            try:
                return self._post(path, body, timeout)
            except (NetworkError, ApiError) as error:
                if not error.retryable or (stop is not None and stop.is_set()):
                    raise
                wait = delay
                if isinstance(error, ApiError) and error.retry_after is not None:
                    wait = max(wait, error.retry_after)
                if deadline is None:
                    if attempt >= attempts:
                        raise
                elif time.time() + wait >= deadline():
                    raise
                if stop is not None:
                    if stop.wait(wait):
                        raise
                else:
                    time.sleep(wait)
                delay = min(delay * 2, self.max_delay)

    def _post(self, path: str, body: Dict[str, Any], timeout: float) -> Any:
        try:
            response = self._http.post(path, json=body, timeout=timeout)
        except httpx.TransportError as error:
            raise NetworkError(f"cannot reach {self.server_url}: {type(error).__name__}: {error}") from error
        if response.status_code == 204:
            return None
        if 200 <= response.status_code < 300:
            return response.json() if response.content else None
        problem: Dict[str, Any] = {}
        try:
            parsed = response.json()
            if isinstance(parsed, dict):
                problem = parsed
        except ValueError:
            pass  # not problem+json: the status says enough
        retry_after: Optional[float] = None
        try:
            retry_after = float(response.headers["retry-after"])
        except (KeyError, ValueError):
            pass
        raise ApiError(
            response.status_code,
            str(problem.get("code") or f"HTTP_{response.status_code}"),
            str(problem.get("detail") or problem.get("title") or response.text[:500]),
            retry_after=retry_after,
            field=problem.get("field"),
        )


def _quote(segment: str) -> str:
    return quote(segment, safe="")

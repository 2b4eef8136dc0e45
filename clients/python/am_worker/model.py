"""What a handler receives (Task, TaskContext) and returns (Result), and the wire shapes they map to."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional

#: Server-side caps (src/protocol/limits.ts): a result above them is refused, so they are cut here.
MAX_OUTPUT_CHARS = 256_000
MAX_THOUGHT_CHARS = 8_000
MAX_STEPS = 200
MAX_ERROR_CHARS = 4_000

#: The reserved id of every graph's synthesis task (kind `synthesis`).
SYNTHESIS_TASK_ID = "_synthesis"

Step = Dict[str, Any]
"""One ReAct step as the server stores it: `{thought, action: {type: "final", answer} | {type: "tool",
name, input}, observation?, startedAt?, durationMs?}`."""


@dataclass(frozen=True)
class Task:
    """A claimed task. `kind` is `work`, or `synthesis` for the `_synthesis` task of every graph."""

    id: str
    graph_id: str
    title: str
    instructions: str
    kind: str
    attempt: int
    cycle: int


@dataclass(frozen=True)
class Dependency:
    task_id: str
    output: str


@dataclass(frozen=True)
class Rework:
    """Present when the auditor sent the task back: what it asked for, and the task's previous output."""

    notes: str
    previous_output: Optional[str]


def _no_step(_step: Step) -> None:
    return None


@dataclass
class TaskContext:
    """The claim's context, plus the two things a long-running handler may use.

    `cancelled` is set when the graph was cancelled, the claim was lost, or the worker stopped and its
    grace period ran out (the task was released): check it between steps and return early. Whatever is
    returned after that is dropped. `report_step(step)` streams one step to the server as progress
    (best effort; the Result's history still carries every step).
    """

    goal: str
    dependencies: List[Dependency] = field(default_factory=list)
    rework: Optional[Rework] = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    on_step: Callable[[Step], None] = field(default=_no_step, repr=False)

    def report_step(self, step: Step) -> None:
        try:
            self.on_step(step)
        except Exception:  # noqa: BLE001 - progress never fails a task
            pass


@dataclass
class Result:
    """What a handler returns. `Result.failed(...)` reports a failure instead of an output."""

    output: str = ""
    history: List[Step] = field(default_factory=list)
    status: str = "completed"
    #: For a failure: `{message, retryable}`; a retryable failure is offered again after a backoff.
    error: Optional[Dict[str, Any]] = None
    #: `{promptTokens, completionTokens, totalTokens}`
    usage: Optional[Dict[str, int]] = None
    model: Optional[str] = None
    prompt_version: Optional[str] = None

    @classmethod
    def failed(cls, message: str, retryable: bool = True, history: Optional[List[Step]] = None) -> "Result":
        return cls(
            status="failed",
            error={"message": message[:MAX_ERROR_CHARS], "retryable": retryable},
            history=list(history or []),
        )

    def to_body(self) -> Dict[str, Any]:
        """The result fields of POST /v1/results (without graphId, taskId, claimToken, next)."""
        history = [_fit_step(step) for step in self.history[:MAX_STEPS]]
        if self.status == "failed":
            error = dict(self.error or {"message": "failed", "retryable": True})
            error["message"] = str(error.get("message", "failed"))[:MAX_ERROR_CHARS]
            return {"status": "failed", "history": history, "error": error}
        if self.status != "completed":
            raise ValueError(f"Result.status must be 'completed' or 'failed', got {self.status!r}")
        body: Dict[str, Any] = {"status": "completed", "output": self.output[:MAX_OUTPUT_CHARS], "history": history}
        if self.usage is not None:
            body["usage"] = self.usage
        if self.model is not None:
            body["model"] = self.model
        if self.prompt_version is not None:
            body["promptVersion"] = self.prompt_version
        return body


def as_result(value: Any) -> Result:
    """A handler may return a Result, or just the output as a string (one final step is made for it)."""
    if isinstance(value, Result):
        return value
    if isinstance(value, str):
        return Result(output=value, history=[final_step("The handler returned its answer.", value)])
    raise TypeError(f"a handler must return a Result or a str, not {type(value).__name__}")


def final_step(thought: str, answer: str, started_at: Optional[float] = None, duration_ms: int = 0) -> Step:
    """A `final` step; `started_at` is an epoch time (default: now)."""
    return {
        "thought": thought[:MAX_THOUGHT_CHARS],
        "action": {"type": "final", "answer": answer[:MAX_OUTPUT_CHARS]},
        "startedAt": iso_time(started_at),
        "durationMs": max(0, int(duration_ms)),
    }


def iso_time(epoch: Optional[float] = None) -> str:
    """`2026-11-25T10:00:00.000Z`, the form the server's schemas accept."""
    moment = datetime.fromtimestamp(epoch, timezone.utc) if epoch is not None else datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _fit_step(step: Step) -> Step:
    fitted = dict(step)
    if isinstance(fitted.get("thought"), str):
        fitted["thought"] = fitted["thought"][:MAX_THOUGHT_CHARS]
    return fitted


@dataclass(frozen=True)
class Claim:
    """A claim reply of POST /v1/tasks/claim (or a result's `next`)."""

    task: Task
    claim_token: str
    lease_until: str
    lease_ms: int
    context: Dict[str, Any]

    @classmethod
    def from_json(cls, body: Dict[str, Any]) -> "Claim":
        task = body["task"]
        return cls(
            task=Task(
                id=task["id"],
                graph_id=task["graphId"],
                title=task.get("title", ""),
                instructions=task.get("instructions", ""),
                kind=task.get("kind", "work"),
                attempt=int(task.get("attempt", 1)),
                cycle=int(task.get("cycle", 1)),
            ),
            claim_token=str(body["claimToken"]),
            lease_until=body["leaseUntil"],
            lease_ms=int(body.get("leaseMs", 60_000)),
            context=body.get("context") or {},
        )

    def task_context(self, cancelled: threading.Event, on_step: Callable[[Step], None]) -> TaskContext:
        raw = self.context
        rework = raw.get("rework")
        return TaskContext(
            goal=raw.get("goal", ""),
            dependencies=[Dependency(d["taskId"], d.get("output", "")) for d in raw.get("dependencies", [])],
            rework=Rework(rework.get("notes", ""), rework.get("previousOutput")) if rework else None,
            cancelled=cancelled,
            on_step=on_step,
        )


def parse_time(text: str) -> float:
    """Epoch seconds of an ISO time the server sent (`…Z`)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

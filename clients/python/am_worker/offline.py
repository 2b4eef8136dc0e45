"""`offline_handler`: an OFFLINE, DETERMINISTIC stand-in for an LLM agent. It calls no model.

It exists so a Python worker can be run, tested and demonstrated without an API key, and it mirrors the
server's offline provider (docs/offline-provider.md) so its outputs pass the server's offline audit:

- a work task is answered with its title, an excerpt of its instructions (so the output mentions the
  task's keywords, which the offline auditor checks), the dependencies it builds on and, when
  reworked, the auditor's notes — one `final` step, model `offline`;
- the markers work as on the server: `[[BAD]]` in the instructions is repeated in the output (the audit
  fails it every cycle), `[[BAD-ONCE]]` only until the task is reworked;
- the `_synthesis` task (kind `synthesis`) combines its dependencies' outputs (every work task's) under a
  heading naming the goal.

Replace it with your own `handle(task, context) -> Result` for real work (see README.md).
"""

from __future__ import annotations

import re
import time

from .model import MAX_OUTPUT_CHARS, Result, Task, TaskContext, final_step

OFFLINE_MODEL = "offline"
OFFLINE_PROMPT_VERSION = "python-offline-1"

BAD_MARKER = "[[BAD]]"
BAD_ONCE_MARKER = "[[BAD-ONCE]]"


def offline_handler(task: Task, context: TaskContext) -> Result:
    """The default handler: deterministic, offline; see the module's docstring."""
    started = time.time()
    if task.kind == "synthesis":
        thought = f"Combine the {len(context.dependencies)} audited task outputs in order."
        answer = offline_synthesis(context)
    else:
        thought = "Offline handler: no model is called; I answer from the title and the instructions."
        answer = offline_answer(task, context)
    step = final_step(thought, answer, started, int((time.time() - started) * 1000))
    context.report_step(step)
    return Result(
        output=answer,
        history=[step],
        usage={"promptTokens": 0, "completionTokens": 0, "totalTokens": 0},
        model=OFFLINE_MODEL,
        prompt_version=OFFLINE_PROMPT_VERSION,
    )


def offline_answer(task: Task, context: TaskContext) -> str:
    lines = [
        f"{remove_markers(task.title).strip()} (offline result for task {task.id}).",
        f"Addressed the instructions: {excerpt(remove_markers(task.instructions), 2000)}",
    ]
    if context.dependencies:
        used = ", ".join(f"{dep.task_id} ({len(dep.output)} characters)" for dep in context.dependencies)
        lines.append(f"Builds on the outputs of {used}.")
    if context.rework is not None:
        notes = excerpt(remove_markers(context.rework.notes), 300)
        lines.append(f"Reworked in cycle {task.cycle} to address the auditor: {notes}")
    if BAD_MARKER in task.instructions:
        lines.append(f"Known bad output {BAD_MARKER}")
    if BAD_ONCE_MARKER in task.instructions and context.rework is None:
        lines.append(f"Bad until reworked {BAD_ONCE_MARKER}")
    return "\n".join(lines)[:MAX_OUTPUT_CHARS]


def offline_synthesis(context: TaskContext) -> str:
    """A heading naming the goal, then one bullet per dependency with an excerpt of its output."""
    bullets = [f"- {dep.task_id}: {excerpt(dep.output, 300)}" for dep in context.dependencies]
    text = "\n".join([f"Final answer (offline synthesis) for: {excerpt(context.goal, 500)}", "", *bullets])
    return text[:MAX_OUTPUT_CHARS]


def remove_markers(text: str) -> str:
    return text.replace(BAD_ONCE_MARKER, "").replace(BAD_MARKER, "")


def excerpt(text: str, limit: int) -> str:
    """Whitespace collapsed and cut to `limit` characters with an ellipsis."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"

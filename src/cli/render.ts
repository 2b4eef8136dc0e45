import type { TaskGraph, TrailEvent } from '../protocol/index.ts';

const STATUS_MARK: Record<string, string> = {
  PENDING: '·',
  READY: '○',
  CLAIMED: '◐',
  COMPLETED: '●',
  FAILED: '✗',
  CANCELLED: '⊘',
};

/** The DAG as a tree: roots first, each task under the tasks it depends on (a task with several parents is shown once, then referenced). */
export function renderGraphTree(graph: TaskGraph): string {
  const g = graph.graph;
  const lines: string[] = [`graph ${g.id}  ${g.status}  cycle ${g.cycle}`, `goal: ${g.goal}`];
  const work = graph.tasks.filter((t) => t.kind === 'work');
  const children = new Map<string, string[]>();
  for (const task of work) {
    for (const dep of task.dependsOn) children.set(dep, [...(children.get(dep) ?? []), task.id]);
  }
  const byId = new Map(graph.tasks.map((t) => [t.id, t]));
  const shown = new Set<string>();
  const describe = (id: string): string => {
    const task = byId.get(id);
    if (!task) return id;
    const who = task.assignee ? ` by ${task.assignee}` : '';
    const attempts = task.attempts > 0 ? ` attempts ${task.attempts}` : '';
    return `${STATUS_MARK[task.status] ?? '?'} ${task.id} [${task.status}${who}] cycle ${task.cycle}${attempts} — ${task.title}`;
  };
  const walk = (id: string, prefix: string, last: boolean): void => {
    const branch = last ? '└─ ' : '├─ ';
    if (shown.has(id)) {
      lines.push(`${prefix}${branch}↳ ${id} (see above)`);
      return;
    }
    shown.add(id);
    lines.push(`${prefix}${branch}${describe(id)}`);
    const kids = children.get(id) ?? [];
    for (const [i, kid] of kids.entries())
      walk(kid, `${prefix}${last ? '   ' : '│  '}`, i === kids.length - 1);
  };
  const roots = work.filter((t) => t.dependsOn.length === 0).map((t) => t.id);
  for (const [i, id] of roots.entries()) walk(id, '', i === roots.length - 1 && !byId.has('_synthesis'));
  const synthesis = byId.get('_synthesis');
  if (synthesis) lines.push(`└─ ${describe('_synthesis')} (after a passed audit)`);
  for (const audit of graph.audits) {
    lines.push(
      `audit cycle ${audit.cycle}: ${audit.passed ? 'PASSED' : 'FAILED'} (score ${audit.report.score}) ${audit.report.summary}`,
    );
    for (const s of audit.report.rework_suggestions)
      lines.push(`  - ${s.taskId}: ${s.problem} → ${s.suggestion}`);
    if (!audit.passed && audit.rework.length > 0) lines.push(`  rework: ${audit.rework.join(', ')}`);
  }
  if (g.output !== null) lines.push('final answer:', g.output);
  if (g.failure) lines.push(`failed (${g.failure.reason}): ${g.failure.message}`);
  return lines.join('\n');
}

/** One readable line per event: `#seq  HH:MM:SS.mmm  Type  task  actor  summary`. */
export function renderEventLine(event: TrailEvent): string {
  const time = event.at.length >= 23 ? event.at.slice(11, 23) : event.at;
  const data = (event.data ?? {}) as Record<string, unknown>;
  const summary = summarize(event.type, data);
  return [
    `#${String(event.seq).padStart(5)}`,
    time,
    event.type.padEnd(19),
    (event.taskId ?? '').padEnd(12),
    (event.actor ?? '').padEnd(16),
    summary,
  ]
    .join('  ')
    .trimEnd();
}

function summarize(type: string, data: Record<string, unknown>): string {
  switch (type) {
    case 'GraphSubmitted':
      return `goal: ${String(data.goal).slice(0, 80)}${Array.isArray(data.tasks) ? ` (${data.tasks.length} tasks)` : ''}`;
    case 'GraphPlanned':
      return `${(data.tasks as unknown[]).length} tasks by ${String(data.planner)}`;
    case 'TaskClaimed':
      return `attempt ${String(data.attempt)} cycle ${String(data.cycle)}`;
    case 'TaskCompleted':
      return `output: ${String((data.result as { output?: string })?.output ?? '')
        .replace(/\s+/g, ' ')
        .slice(0, 80)}`;
    case 'TaskAttemptFailed':
    case 'TaskFailed':
      return `error: ${String((data.error as { message?: string })?.message ?? '')}`;
    case 'GraphCompleted':
    case 'AuditStarted':
      return `cycle ${String(data.cycle)}`;
    case 'AuditPassed':
      return `cycle ${String(data.cycle)} score ${String((data.report as { score?: number })?.score)}`;
    case 'AuditFailed':
      return `cycle ${String(data.cycle)} rework: ${(data.rework as string[]).join(', ') || '(none left)'}`;
    case 'GraphSucceeded':
      return `output: ${String(data.output).replace(/\s+/g, ' ').slice(0, 80)}`;
    case 'GraphFailed':
      return `${String(data.reason)}: ${String(data.message)}`;
    case 'TaskProgressed': {
      const step = data.step as { thought?: string } | undefined;
      return `step ${String(data.index)}: ${String(step?.thought ?? '').slice(0, 60)}`;
    }
    default:
      return '';
  }
}

/** `tasks 3/5 · cycle 1 · RUNNING · audits: failed` */
export function renderProgress(graph: TaskGraph): string {
  const work = graph.tasks.filter((t) => t.kind === 'work');
  const done = work.filter((t) => t.status === 'COMPLETED').length;
  const width = 20;
  const bar = '#'.repeat(work.length ? Math.round((done / work.length) * width) : 0).padEnd(width, '.');
  const audits = graph.audits.map((a) => (a.passed ? 'passed' : 'failed')).join(', ') || '-';
  return `[${bar}] tasks ${done}/${work.length} · cycle ${graph.graph.cycle} · ${graph.graph.status} · audits: ${audits}`;
}

// The panels of a graph page: overview, one task (ReAct steps, output, attempts), the audit cycles and
// the event timeline. Every text an agent produced is appended as text (see dom.js).
import { asText, facts, h, statusBadge, textBlock, when } from '../dom.js';

const CLAIM_OUTCOMES = new Set([
  'TaskReleased',
  'TaskAttemptFailed',
  'TaskLeaseExpired',
  'TaskCompleted',
  'TaskFailed',
]);

export function overviewPanel(model, taskHref) {
  const { graph, tasks } = model;
  return h(
    'div',
    { class: 'overview' },
    graph.output === null ? null : [h('h2', {}, 'Final output'), textBlock(graph.output, 'text output')],
    graph.failure === null
      ? null
      : [
          h('h2', {}, 'Failure'),
          h('p', { class: 'error' }, `${graph.failure.reason}: ${graph.failure.message}`),
        ],
    h('h2', {}, 'Goal'),
    textBlock(graph.goal),
    h('h2', {}, 'Tasks'),
    h(
      'table',
      { class: 'list' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Task', 'Title', 'Status', 'Cycle', 'Attempts', 'Agent'].map((t) => h('th', {}, t)),
        ),
      ),
      h(
        'tbody',
        {},
        tasks.map((task) =>
          h(
            'tr',
            { 'data-task-id': task.id },
            h('td', {}, h('a', { href: taskHref(task.id) }, task.id)),
            h('td', {}, task.title),
            h('td', {}, statusBadge(task.status)),
            h('td', {}, String(task.cycle)),
            h('td', {}, String(task.attempts)),
            h('td', {}, task.assignee ?? task.result?.agentId ?? '—'),
          ),
        ),
      ),
    ),
    h('h2', {}, 'Options'),
    textBlock(graph.options),
  );
}

/** One task: what it is, its output, its ReAct steps (live while it runs) and every claim of it. */
export function taskPanel(model, taskId, events) {
  const task = model.tasks.find((candidate) => candidate.id === taskId);
  if (!task) return h('p', { class: 'muted' }, `No task ${taskId} in this graph.`);
  const result = task.result;
  const liveSteps = events
    .filter(
      (e) => e.type === 'TaskProgressed' && e.taskId === task.id && e.data.claimToken === task.claimToken,
    )
    .sort((a, b) => a.data.index - b.data.index)
    .map((e) => e.data.step);
  const steps = task.status === 'CLAIMED' && liveSteps.length > 0 ? liveSteps : (result?.history ?? []);
  return h(
    'div',
    { class: 'task', 'data-task-id': task.id },
    h('h2', {}, task.title),
    facts([
      ['Task', task.id],
      ['Kind', task.kind],
      ['Status', statusBadge(task.status)],
      ['Cycle', String(task.cycle)],
      ['Attempts used', String(task.attempts)],
      ['Assignee', task.assignee],
      ['Lease until', task.leaseUntil ? when(task.leaseUntil) : null],
      ['Capability', task.capability],
      ['Depends on', task.dependsOn.length > 0 ? task.dependsOn.join(', ') : null],
    ]),
    h('h3', {}, 'Instructions'),
    textBlock(task.instructions),
    result === null
      ? null
      : [
          h(
            'h3',
            {},
            `Output (cycle ${result.cycle}, attempt ${result.attempt}, ${result.status}, by ${result.agentId})`,
          ),
          result.output === null ? null : textBlock(result.output, 'text output'),
          result.error === null ? null : h('p', { class: 'error' }, result.error.message),
          result.usage === null
            ? null
            : h(
                'p',
                { class: 'muted' },
                `${result.usage.totalTokens} tokens${result.model ? ` · ${result.model}` : ''}`,
              ),
        ],
    h('h3', {}, `ReAct steps (${steps.length})`),
    steps.length === 0
      ? h('p', { class: 'muted' }, 'None yet.')
      : h('ol', { class: 'steps' }, steps.map(stepItem)),
    h('h3', {}, 'Attempts'),
    attemptsTable(events.filter((e) => e.taskId === task.id)),
  );
}

function stepItem(step) {
  const action = step.action;
  return h(
    'li',
    { class: 'step' },
    h('div', { class: 'thought' }, h('b', {}, 'Thought '), step.thought),
    action.type === 'tool'
      ? h('div', { class: 'action' }, h('b', {}, `Tool ${action.name} `), textBlock(action.input))
      : h('div', { class: 'action' }, h('b', {}, 'Final answer '), textBlock(action.answer)),
    step.observation === undefined || step.observation === null
      ? null
      : h('div', { class: 'observation' }, h('b', {}, 'Observation '), textBlock(step.observation)),
    step.durationMs === undefined ? null : h('span', { class: 'muted' }, `${step.durationMs} ms`),
  );
}

/** A row per claim (its TaskClaimed sequence is its token) with what became of it. */
function attemptsTable(taskEvents) {
  const claims = new Map();
  const rows = [];
  for (const event of taskEvents) {
    if (event.type === 'TaskClaimed') {
      const row = { event, outcome: null };
      claims.set(String(event.seq), row);
      rows.push(row);
    } else if (CLAIM_OUTCOMES.has(event.type)) {
      const row = claims.get(String(event.data.claimToken));
      if (row) row.outcome = event;
    }
  }
  if (rows.length === 0) return h('p', { class: 'muted' }, 'Not claimed yet.');
  return h(
    'table',
    { class: 'list attempts' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Cycle', 'Attempt', 'Agent', 'Claimed', 'Outcome', 'Detail'].map((t) => h('th', {}, t)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map(({ event, outcome }) =>
        h(
          'tr',
          {},
          h('td', {}, String(event.data.cycle)),
          h('td', {}, String(event.data.attempt)),
          h('td', {}, event.data.agentId),
          h('td', {}, when(event.at)),
          h('td', {}, outcome === null ? 'in progress' : outcome.type.replace(/^Task/, '')),
          h('td', {}, outcome === null ? '' : summary(outcome)),
        ),
      ),
    ),
  );
}

/** Every audit cycle: the verdict, the summary, the findings and the rework suggestions. */
export function auditsPanel(model) {
  if (model.audits.length === 0) return h('p', { class: 'muted' }, 'No audit yet.');
  return h(
    'div',
    { class: 'audits' },
    model.audits.map((audit) =>
      h(
        'section',
        { class: 'audit', 'data-audit-cycle': audit.cycle, 'data-passed': String(audit.passed) },
        h(
          'h2',
          {},
          `Cycle ${audit.cycle}: `,
          h('span', { class: audit.passed ? 'passed' : 'failed' }, audit.passed ? 'passed' : 'failed'),
          ` · score ${audit.report.score}`,
        ),
        h(
          'p',
          { class: 'muted' },
          `${when(audit.at)}${audit.report.model ? ` · ${audit.report.model}` : ''}`,
        ),
        textBlock(audit.report.summary),
        audit.report.findings.length === 0
          ? null
          : [
              h('h3', {}, 'Findings'),
              h(
                'ul',
                {},
                audit.report.findings.map((f) => h('li', {}, f)),
              ),
            ],
        audit.report.rework_suggestions.length === 0
          ? null
          : [
              h('h3', {}, 'Rework suggestions'),
              h(
                'table',
                { class: 'list rework-suggestions' },
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    ['Task', 'Problem', 'Suggestion'].map((t) => h('th', {}, t)),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  audit.report.rework_suggestions.map((s) =>
                    h(
                      'tr',
                      { class: 'rework-suggestion', 'data-task-id': s.taskId },
                      h('td', {}, s.taskId),
                      h('td', {}, s.problem),
                      h('td', {}, s.suggestion),
                    ),
                  ),
                ),
              ),
            ],
        audit.rework.length === 0 ? null : h('p', {}, `Sent back for rework: ${audit.rework.join(', ')}`),
      ),
    ),
  );
}

/** Rows the timeline keeps in the page; older ones are dropped (the Events API still has them all). */
const TIMELINE_ROWS = 5_000;

/** The timeline's table; rows are added as events arrive. */
export function timelineTable() {
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'list timeline', id: 'timeline' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Seq', 'Time', 'Event', 'Task', 'Actor', 'Detail'].map((t) => h('th', {}, t)),
      ),
    ),
    body,
  );
  return {
    table,
    add(event) {
      if (body.rows.length >= TIMELINE_ROWS) body.rows[0].remove();
      body.append(
        h(
          'tr',
          { 'data-seq': event.seq, 'data-type': event.type },
          h('td', {}, String(event.seq)),
          h('td', { title: event.at }, when(event.at)),
          h('td', {}, event.type),
          h('td', {}, event.taskId ?? ''),
          h('td', {}, event.actor ?? ''),
          h(
            'td',
            {},
            h('details', {}, h('summary', {}, summary(event) || 'data'), textBlock(asText(event.data))),
          ),
        ),
      );
    },
  };
}

/** One line about an event, from its data. */
export function summary(event) {
  const data = event.data ?? {};
  switch (event.type) {
    case 'TaskClaimed':
      return `attempt ${data.attempt} of cycle ${data.cycle} by ${data.agentId}`;
    case 'TaskAttemptFailed':
    case 'TaskFailed':
      return data.error?.message ?? '';
    case 'TaskCompleted':
      return `${data.result?.output?.length ?? 0} characters of output`;
    case 'TaskProgressed':
      return `step ${data.index}: ${data.step?.action?.type === 'tool' ? data.step.action.name : 'final answer'}`;
    case 'TaskLeaseExpired':
    case 'TaskReleased':
    case 'TaskCancelled':
    case 'GraphCancelled':
      return data.reason ?? '';
    case 'AuditPassed':
    case 'AuditFailed':
      return `cycle ${data.cycle}: ${data.report?.summary ?? ''}`;
    case 'GraphFailed':
      return `${data.reason}: ${data.message}`;
    case 'GraphPlanned':
      return `${data.tasks?.length ?? 0} tasks`;
    case 'GraphRetried':
      return (data.tasks ?? []).join(', ');
    default:
      return '';
  }
}

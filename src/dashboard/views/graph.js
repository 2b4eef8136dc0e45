// One graph: its header and admin actions, the DAG, and a panel (overview, a task, the audits, the
// timeline). It follows the graph's event stream (SSE): every event is added to the timeline and makes
// the page read the graph again, so node statuses change in place without a reload.
import { api } from '../api.js';
import { errorLine, facts, fill, h, statusBadge, when } from '../dom.js';
import { drawDag, layoutKey, updateDag } from './graph-dag.js';
import { auditsPanel, overviewPanel, taskPanel, timelineTable } from './graph-panels.js';

// EventSource delivers named events only to listeners of that name.
const EVENT_TYPES = [
  'GraphSubmitted',
  'PlanningStarted',
  'GraphPlanned',
  'GraphPlanningFailed',
  'GraphCompleted',
  'AuditStarted',
  'AuditPassed',
  'AuditFailed',
  'GraphSucceeded',
  'GraphFailed',
  'GraphCancelled',
  'GraphRetried',
  'TaskClaimed',
  'TaskLeaseExtended',
  'TaskReleased',
  'TaskCompleted',
  'TaskAttemptFailed',
  'TaskLeaseExpired',
  'TaskFailed',
  'TaskCancelled',
  'TaskProgressed',
  'Unreadable',
];
const FINISHED = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
const RETRYABLE = new Set(['task_failed', 'synthesis_failed']);
/** Events arriving together (a backlog, a burst) cause one read of the graph. */
const REFRESH_DELAY_MS = 80;
/** Events that change nothing the graph's view holds: they update the timeline and the task panel only. */
const VIEW_UNCHANGED = new Set(['TaskProgressed', 'TaskLeaseExtended']);

export function mountGraph(root, params, app) {
  const graphId = params.id;
  const base = `#/graphs/${encodeURIComponent(graphId)}`;
  const taskHref = (taskId) => `${base}/tasks/${encodeURIComponent(taskId)}`;
  let route = params;
  let model = null;
  let drawnKey = null;
  let seenSeq = 0; // the last event of the stream
  let actedSeq = 0; // what this page's last action appended
  let refreshTimer = null;
  let loading = false;
  let dirty = false;
  let stopped = false;
  const events = [];
  const timeline = timelineTable();
  // What each part of the page shows: a part is drawn again only when that changed, so a button or a text
  // the user is selecting is not replaced by an identical copy at every event.
  const shown = new Map();
  const redraw = (part, key, draw) => {
    if (shown.get(part) === key) return;
    shown.set(part, key);
    draw();
  };

  const head = h('div', { class: 'graph-head' });
  const actions = h('div', { class: 'actions' });
  const message = h('div');
  const liveState = h('span', { class: 'live', id: 'live-state', 'data-state': 'connecting' }, 'connecting');
  const dag = h('div', { class: 'dag', id: 'dag' });
  const tabs = h('nav', { class: 'tabs' });
  const panel = h('section', { class: 'panel', id: 'panel' });
  root.replaceChildren(head, actions, message, dag, tabs, panel);

  async function load() {
    try {
      const view = await api(
        'GET',
        `/v1/graphs/${encodeURIComponent(graphId)}?minSeq=${Math.max(seenSeq, actedSeq)}`,
      );
      if (stopped) return;
      model = view;
      message.replaceChildren();
      render();
    } catch (error) {
      if (!stopped) message.replaceChildren(errorLine(error));
    }
  }

  /** One read at a time, so an older answer never overwrites a newer one; events during a read cause one more. */
  function scheduleRefresh(delay = REFRESH_DELAY_MS) {
    dirty = true;
    if (loading || refreshTimer !== null || stopped) return;
    refreshTimer = setTimeout(async () => {
      refreshTimer = null;
      dirty = false;
      loading = true;
      try {
        await load();
      } finally {
        loading = false;
        if (dirty) scheduleRefresh();
      }
    }, delay);
  }

  function render() {
    const { graph, tasks } = model;
    redraw(head, `${graph.status}|${graph.cycle}|${graph.updatedAt}`, () => {
      fill(
        head,
        h('h1', { class: 'goal', title: graph.goal }, graph.goal),
        h('div', { class: 'graph-facts' }, statusBadge(graph.status), liveState),
        facts([
          ['Graph', graph.id],
          ['Cycle', String(graph.cycle)],
          ['Submitted', `${when(graph.createdAt)} by ${graph.submittedBy}`],
          ['Updated', when(graph.updatedAt)],
        ]),
      );
      head.querySelector('.status').id = 'graph-status';
    });
    redraw(actions, `${graph.status}|${graph.failure?.reason}`, () => renderActions(graph));
    const key = layoutKey(tasks);
    if (key !== drawnKey) {
      if (tasks.length === 0) fill(dag, h('p', { class: 'muted' }, 'Not planned yet.'));
      else drawDag(dag, tasks, taskHref);
      drawnKey = key;
    }
    updateDag(dag, tasks, route.tab === 'task' ? route.taskId : null);
    renderTabs();
    renderPanel();
  }

  function renderActions(graph) {
    actions.replaceChildren();
    if (!app.isAdmin) return;
    if (!FINISHED.has(graph.status)) {
      actions.append(actionButton('cancel-graph', 'Cancel graph', 'cancel', 'Cancel this graph?'));
    }
    if (graph.status === 'FAILED' && RETRYABLE.has(graph.failure?.reason)) {
      actions.append(actionButton('retry-graph', 'Retry failed tasks', 'retry', 'Retry the failed tasks?'));
    }
  }

  function actionButton(id, label, action, question) {
    const button = h('button', { type: 'button', id, class: 'action' }, label);
    button.addEventListener('click', async () => {
      if (!window.confirm(question)) return;
      button.disabled = true;
      try {
        const reply = await api('POST', `/v1/graphs/${encodeURIComponent(graphId)}/${action}`);
        actedSeq = Math.max(actedSeq, reply?.seq ?? 0);
        scheduleRefresh(0);
      } catch (error) {
        message.replaceChildren(errorLine(error));
        button.disabled = false;
      }
    });
    return button;
  }

  function renderTabs() {
    const entries = [
      ['overview', 'Overview', base],
      ['audits', `Audits (${model.audits.length})`, `${base}/audits`],
      ['timeline', `Timeline (${events.length})`, `${base}/timeline`],
    ];
    if (route.tab === 'task') entries.push(['task', `Task ${route.taskId}`, taskHref(route.taskId)]);
    redraw(tabs, JSON.stringify([route.tab, entries]), () =>
      fill(
        tabs,
        entries.map(([tab, label, href]) =>
          h('a', { href, 'data-tab': tab, class: route.tab === tab ? 'active' : null }, label),
        ),
      ),
    );
  }

  function renderPanel() {
    const { tab, taskId } = route;
    if (tab === 'timeline') {
      redraw(panel, 'timeline', () => panel.replaceChildren(timeline.table));
      return;
    }
    let key;
    let draw;
    if (tab === 'audits') {
      key = `audits|${model.audits.map((audit) => audit.seq).join(',')}`;
      draw = () => auditsPanel(model);
    } else if (tab === 'task') {
      const task = model.tasks.find((candidate) => candidate.id === taskId);
      key = `task|${taskId}|${JSON.stringify(task)}|${events.filter((e) => e.taskId === taskId).length}`;
      draw = () => taskPanel(model, taskId, events);
    } else {
      key = `overview|${model.graph.updatedAt}|${model.graph.status}|${JSON.stringify(model.tasks.map((t) => [t.status, t.lastSeq, t.assignee]))}`;
      draw = () => overviewPanel(model, taskHref);
    }
    redraw(panel, key, () => {
      const keepScroll = window.scrollY;
      panel.replaceChildren(draw());
      window.scrollTo({ top: keepScroll });
    });
  }

  function onEvent(message) {
    const event = JSON.parse(message.data);
    if (event.seq <= seenSeq) return;
    seenSeq = event.seq;
    events.push(event);
    timeline.add(event);
    if (!VIEW_UNCHANGED.has(event.type)) scheduleRefresh();
    else if (model !== null) {
      renderTabs();
      if (route.tab === 'task' && route.taskId === event.taskId) renderPanel();
    }
  }

  // EventSource sends the session cookie (same origin) and resumes with Last-Event-ID by itself.
  const source = new EventSource(`/v1/graphs/${encodeURIComponent(graphId)}/events/stream`);
  for (const type of EVENT_TYPES) source.addEventListener(type, onEvent);
  source.addEventListener('open', () => setLive('live'));
  source.addEventListener('error', () => {
    setLive(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
    // A stream refused outright (an ended session, an unknown graph): the read says why.
    if (source.readyState === EventSource.CLOSED) scheduleRefresh(0);
  });

  function setLive(state) {
    liveState.dataset.state = state;
    fill(liveState, state);
  }

  scheduleRefresh(0);

  return {
    update(nextParams) {
      if (nextParams.id !== graphId) return false;
      route = nextParams;
      if (model !== null) render();
      return true;
    },
    unmount() {
      stopped = true;
      clearTimeout(refreshTimer);
      source.close();
    },
  };
}

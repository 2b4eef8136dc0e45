// The graph list: status, goal, cycle, age and task counts, filtered by status, paged with the API's
// cursor, refreshed every few seconds. Counts come from each graph's own view, read again only when the
// graph changed (its updatedAt moves with every task change).
import { api, query } from '../api.js';
import { age, errorLine, fill, h, statusBadge } from '../dom.js';

export const GRAPH_STATUSES = [
  'SUBMITTED',
  'PLANNING',
  'RUNNING',
  'AUDITING',
  'SYNTHESIZING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
];
const PAGE_SIZE = 25;
const REFRESH_MS = 3_000;

export function mountGraphs(root, params) {
  let status = params.status ?? '';
  let cursors = [undefined]; // the cursor of each page visited; the last one is shown
  let nextCursor = null;
  const counts = new Map(); // graphId → { version, text }
  const rowsShown = new Map(); // graphId → { version, row, ageCell }: unchanged rows are kept, not rebuilt
  let stopped = false;

  const filter = h(
    'select',
    { id: 'status-filter', 'aria-label': 'Status' },
    h('option', { value: '' }, 'every status'),
    GRAPH_STATUSES.map((s) => h('option', { value: s }, s)),
  );
  filter.value = status;
  filter.addEventListener('change', () => {
    location.hash = `#/graphs${query({ status: filter.value })}`;
  });
  const prev = h('button', { type: 'button', id: 'page-prev' }, '← Newer');
  const next = h('button', { type: 'button', id: 'page-next' }, 'Older →');
  const pageLabel = h('span', { class: 'muted' });
  const body = h('tbody');
  const message = h('div');
  prev.addEventListener('click', () => {
    cursors.pop();
    void load();
  });
  next.addEventListener('click', () => {
    if (nextCursor === null) return;
    cursors.push(nextCursor);
    void load();
  });

  root.replaceChildren(
    h('div', { class: 'toolbar' }, h('h1', {}, 'Graphs'), filter, prev, pageLabel, next),
    message,
    h(
      'table',
      { class: 'list', id: 'graphs' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Status', 'Goal', 'Cycle', 'Age', 'Tasks'].map((title) => h('th', {}, title)),
        ),
      ),
      body,
    ),
  );

  async function countsOf(graph) {
    const version = `${graph.status}|${graph.cycle}|${graph.updatedAt}`;
    const known = counts.get(graph.id);
    if (known?.version === version) return known.text;
    const view = await api('GET', `/v1/graphs/${encodeURIComponent(graph.id)}`);
    const work = view.tasks.filter((task) => task.kind === 'work');
    const by = (s) => work.filter((task) => task.status === s).length;
    const parts = [`${by('COMPLETED')}/${work.length} done`];
    if (by('CLAIMED') > 0) parts.push(`${by('CLAIMED')} running`);
    if (by('READY') > 0) parts.push(`${by('READY')} ready`);
    if (by('FAILED') > 0) parts.push(`${by('FAILED')} failed`);
    const text = parts.join(' · ');
    counts.set(graph.id, { version, text });
    return text;
  }

  async function load() {
    try {
      const page = await api(
        'GET',
        `/v1/graphs${query({ status, limit: PAGE_SIZE, cursor: cursors[cursors.length - 1] })}`,
      );
      if (stopped) return;
      nextCursor = page.nextCursor;
      prev.disabled = cursors.length <= 1;
      next.disabled = nextCursor === null;
      fill(pageLabel, `page ${cursors.length}`);
      const rows = page.graphs.map((graph) => {
        const version = `${graph.status}|${graph.cycle}|${graph.updatedAt}`;
        const known = rowsShown.get(graph.id);
        if (known?.version === version) {
          fill(known.ageCell, age(graph.createdAt));
          return known.row;
        }
        const tasks = h('td', { class: 'counts' }, counts.get(graph.id)?.text ?? '…');
        countsOf(graph).then(
          (text) => fill(tasks, text),
          () => fill(tasks, '?'),
        );
        const ageCell = h('td', { title: graph.createdAt }, age(graph.createdAt));
        const row = h(
          'tr',
          { 'data-graph-id': graph.id, 'data-status': graph.status },
          h('td', {}, statusBadge(graph.status)),
          h(
            'td',
            { class: 'goal' },
            h('a', { href: `#/graphs/${encodeURIComponent(graph.id)}`, title: graph.goal }, graph.goal),
          ),
          h('td', {}, String(graph.cycle)),
          ageCell,
          tasks,
        );
        rowsShown.set(graph.id, { version, row, ageCell });
        return row;
      });
      const onPage = new Set(page.graphs.map((graph) => graph.id));
      for (const id of rowsShown.keys()) if (!onPage.has(id)) rowsShown.delete(id);
      body.replaceChildren(...rows);
      if (rows.length === 0) body.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No graphs.')));
      message.replaceChildren();
    } catch (error) {
      if (!stopped) message.replaceChildren(errorLine(error));
    }
  }

  void load();
  const timer = setInterval(() => {
    if (!document.hidden) void load();
  }, REFRESH_MS);

  return {
    update(nextParams) {
      status = nextParams.status ?? '';
      filter.value = status;
      cursors = [undefined];
      void load();
      return true;
    },
    unmount() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

// The task DAG, laid out left to right by dagre and drawn as SVG. Each task is a node with
// `data-task-id` and `data-status`; statuses change in place, the layout only when the tasks do.
import { graphlib, layout } from '/dashboard/vendor/dagre.js';
import { svg } from '../dom.js';

const NODE_WIDTH = 180;
const NODE_HEIGHT = 50;
const TITLE_CHARS = 24;

/** What decides the layout: the tasks and their edges (not their statuses). */
export function layoutKey(tasks) {
  return tasks.map((task) => `${task.id}<${task.dependsOn.join(',')}`).join('|');
}

/**
 * Draws the DAG into `container`. The synthesis task depends on every work task; only the edges from the
 * work tasks nothing else depends on are drawn to it, dashed, so a wide graph stays readable.
 */
export function drawDag(container, tasks, hrefOf) {
  const graph = new graphlib.Graph();
  graph.setGraph({ rankdir: 'LR', nodesep: 22, ranksep: 60, marginx: 10, marginy: 10 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const task of tasks) graph.setNode(task.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  const work = tasks.filter((task) => task.kind === 'work');
  const dependedOn = new Set(work.flatMap((task) => task.dependsOn));
  for (const task of tasks) {
    const deps =
      task.kind === 'synthesis' ? task.dependsOn.filter((id) => !dependedOn.has(id)) : task.dependsOn;
    for (const dep of deps) {
      if (graph.hasNode(dep)) graph.setEdge(dep, task.id, { implicit: task.kind === 'synthesis' });
    }
  }
  layout(graph);
  const { width = 0, height = 0 } = graph.graph();
  const root = svg('svg', {
    class: 'dag-svg',
    width: Math.ceil(width),
    height: Math.ceil(height),
    viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`,
    role: 'img',
    'aria-label': 'Task graph',
  });
  root.append(
    svg(
      'defs',
      {},
      svg(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto',
        },
        svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }),
      ),
    ),
  );
  for (const edge of graph.edges()) {
    const { points, implicit } = graph.edge(edge);
    const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    root.append(svg('path', { d, class: implicit ? 'edge implicit' : 'edge', 'marker-end': 'url(#arrow)' }));
  }
  for (const task of tasks) {
    const node = graph.node(task.id);
    const x = node.x - NODE_WIDTH / 2;
    const y = node.y - NODE_HEIGHT / 2;
    const title = task.kind === 'synthesis' ? 'Synthesis' : task.title;
    root.append(
      svg(
        'a',
        {
          href: hrefOf(task.id),
          class: 'node',
          'data-task-id': task.id,
          'data-status': task.status,
          transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`,
        },
        svg('title', {}, `${task.id}: ${title} (${task.status})`),
        svg('rect', { width: NODE_WIDTH, height: NODE_HEIGHT, rx: 6 }),
        svg('text', { x: 10, y: 20, class: 'node-title' }, clip(title, TITLE_CHARS)),
        svg('text', { x: 10, y: 38, class: 'node-status' }, `${clip(task.id, 14)} · ${task.status}`),
      ),
    );
  }
  container.replaceChildren(root);
}

/** Updates the nodes' statuses and the selected node, without a new layout. */
export function updateDag(container, tasks, selectedId) {
  for (const task of tasks) {
    const node = container.querySelector(`.node[data-task-id="${CSS.escape(task.id)}"]`);
    if (!node) continue;
    if (node.getAttribute('data-status') !== task.status) {
      node.setAttribute('data-status', task.status);
      node.querySelector('.node-status').textContent = `${clip(task.id, 14)} · ${task.status}`;
      const title = task.kind === 'synthesis' ? 'Synthesis' : task.title;
      node.querySelector('title').textContent = `${task.id}: ${title} (${task.status})`;
    }
    node.classList.toggle('selected', task.id === selectedId);
  }
}

function clip(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// The dashboard: a session check, a header, and a hash router that mounts one view at a time. A view is
// `mount(root, route, app)` returning `{ update?(route) → boolean, unmount() }`; `update` lets a view keep
// its state (a graph's live event stream) while the route changes within it.
import { api, request } from './api.js';
import { fill } from './dom.js';
import { mountAgents } from './views/agents.js';
import { mountGraph } from './views/graph.js';
import { mountGraphs } from './views/graphs.js';
import { mountHealth, readiness } from './views/health.js';
import { mountLogin } from './views/login.js';

const VIEWS = { graphs: mountGraphs, graph: mountGraph, agents: mountAgents, health: mountHealth };
const HEALTH_EVERY_MS = 10_000;

/** `#/graphs/<id>/tasks/<taskId>?x=y` → { name, params }. */
export function parseRoute(hash) {
  const [path, search = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = Object.fromEntries(new URLSearchParams(search));
  if (parts[0] === 'graphs' && parts[1]) {
    const tab = parts[2] === 'tasks' ? 'task' : (parts[2] ?? 'overview');
    return { name: 'graph', params: { ...params, id: parts[1], tab, taskId: parts[3] } };
  }
  if (parts[0] === 'agents') return { name: 'agents', params };
  if (parts[0] === 'health') return { name: 'health', params };
  return { name: 'graphs', params };
}

class App {
  constructor() {
    this.root = document.getElementById('view');
    this.session = null;
    this.current = null; // { name, view }
    this.healthTimer = null;
    window.addEventListener('hashchange', () => this.route());
    window.addEventListener('am:unauthorized', () => {
      if (this.session !== null) this.showLogin('Your session ended: log in again.');
    });
    document.getElementById('logout').addEventListener('click', () => this.logout());
  }

  get isAdmin() {
    return this.session?.role === 'admin';
  }

  async start() {
    const { status, data } = await request('GET', '/dashboard/session');
    if (status === 200) this.loggedIn(data);
    else this.showLogin();
  }

  loggedIn(session) {
    this.session = session;
    document.body.dataset.role = session.role;
    fill(document.getElementById('whoami'), `${session.agentId} (${session.role})`);
    for (const id of ['nav', 'whoami', 'logout', 'health-badge']) document.getElementById(id).hidden = false;
    clearInterval(this.healthTimer);
    this.healthTimer = setInterval(() => this.refreshHealth(), HEALTH_EVERY_MS);
    void this.refreshHealth();
    this.route();
  }

  showLogin(message) {
    this.session = null;
    clearInterval(this.healthTimer);
    delete document.body.dataset.role;
    for (const id of ['nav', 'whoami', 'logout', 'health-badge']) document.getElementById(id).hidden = true;
    this.unmount();
    this.current = {
      name: 'login',
      view: mountLogin(this.root, { message }, (session) => this.loggedIn(session)),
    };
  }

  async logout() {
    try {
      await api('POST', '/dashboard/logout');
    } finally {
      this.showLogin('Logged out.');
    }
  }

  unmount() {
    this.current?.view?.unmount?.();
    this.current = null;
    this.root.replaceChildren();
  }

  route() {
    if (this.session === null) return;
    const route = parseRoute(location.hash);
    for (const link of document.querySelectorAll('[data-nav]')) {
      link.classList.toggle('active', link.dataset.nav === (route.name === 'graph' ? 'graphs' : route.name));
    }
    if (this.current?.name === route.name && this.current.view.update?.(route.params)) return;
    this.unmount();
    this.current = { name: route.name, view: VIEWS[route.name](this.root, route.params, this) };
  }

  async refreshHealth() {
    const badge = document.getElementById('health-badge');
    const snapshot = await readiness().catch(() => null);
    badge.dataset.ready = String(snapshot?.ready ?? false);
    fill(
      badge,
      snapshot === null ? 'unreachable' : snapshot.ready ? 'ready' : `not ready: ${snapshot.reason}`,
    );
  }
}

void new App().start();

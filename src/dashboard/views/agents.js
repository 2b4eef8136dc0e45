// Agents: who may call the API, with a revoke button for admins.
import { api } from '../api.js';
import { errorLine, h, when } from '../dom.js';

export function mountAgents(root, _params, app) {
  const body = h('tbody');
  const message = h('div');
  let stopped = false;
  root.replaceChildren(
    h('h1', {}, 'Agents'),
    message,
    h(
      'table',
      { class: 'list', id: 'agents' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Agent', 'Role', 'Status', 'Created', 'Revoked', 'NATS user', ''].map((t) => h('th', {}, t)),
        ),
      ),
      body,
    ),
  );

  function revokeButton(agent) {
    const button = h(
      'button',
      { type: 'button', class: 'action revoke', 'data-agent-id': agent.agentId },
      'Revoke',
    );
    button.addEventListener('click', async () => {
      if (!window.confirm(`Revoke ${agent.agentId}? Its token stops working at once.`)) return;
      button.disabled = true;
      try {
        await api('POST', `/v1/agents/${encodeURIComponent(agent.agentId)}/revoke`);
        await load();
      } catch (error) {
        message.replaceChildren(errorLine(error));
        button.disabled = false;
      }
    });
    return button;
  }

  async function load() {
    try {
      const { agents } = await api('GET', '/v1/agents');
      if (stopped) return;
      body.replaceChildren(
        ...agents.map((agent) =>
          h(
            'tr',
            { 'data-agent-id': agent.agentId, 'data-status': agent.status },
            h('td', {}, agent.agentId, agent.agentId === app.session.agentId ? ' (you)' : ''),
            h('td', {}, agent.role),
            h('td', {}, h('span', { class: 'status', 'data-status': agent.status }, agent.status)),
            h('td', {}, when(agent.createdAt)),
            h('td', {}, when(agent.revokedAt)),
            h('td', {}, agent.natsUser ?? '—'),
            h('td', {}, app.isAdmin && agent.status === 'active' ? revokeButton(agent) : null),
          ),
        ),
      );
      if (agents.length === 0)
        body.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No agents.')));
      message.replaceChildren();
    } catch (error) {
      if (!stopped) message.replaceChildren(errorLine(error));
    }
  }

  void load();
  return {
    unmount() {
      stopped = true;
    },
  };
}

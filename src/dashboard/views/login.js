// The login page: a token (admin or worker) is exchanged once for an HttpOnly session cookie; the page
// never keeps the token.
import { api } from '../api.js';
import { errorLine, h } from '../dom.js';

export function mountLogin(root, { message }, onLoggedIn) {
  const token = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    placeholder: 'am_…',
  });
  const status = h('div', { class: 'form-status' }, message ? h('p', { class: 'muted' }, message) : null);
  const form = h(
    'form',
    { class: 'login', id: 'login-form' },
    h('h1', {}, 'Log in'),
    h('p', {}, 'Paste an agent token (admin or worker). It becomes a session cookie of this browser.'),
    h('label', { for: 'token' }, 'Token'),
    token,
    h('button', { type: 'submit' }, 'Log in'),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.replaceChildren();
    try {
      const session = await api('POST', '/dashboard/login', { token: token.value.trim() });
      token.value = '';
      onLoggedIn(session);
    } catch (error) {
      status.append(errorLine(error));
    }
  });
  root.replaceChildren(form);
  token.focus();
  return { unmount() {} };
}

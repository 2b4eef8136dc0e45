// The server's readiness (/readyz): whether it serves, why not, its NATS link and how far its read model
// lags the stream.
import { ApiError, request } from '../api.js';
import { errorLine, facts, h, when } from '../dom.js';

const REFRESH_MS = 2_000;

/** The readiness snapshot (200 and 503 both carry one). */
export async function readiness() {
  const { status, data } = await request('GET', '/readyz');
  if (status !== 200 && status !== 503) throw new ApiError(status, data);
  return data;
}

export function mountHealth(root) {
  const box = h('div', { id: 'health' });
  let stopped = false;
  root.replaceChildren(h('h1', {}, 'Health'), box);

  async function load() {
    try {
      const s = await readiness();
      if (stopped) return;
      box.replaceChildren(
        h(
          'p',
          {},
          h('span', { class: 'badge', 'data-ready': String(s.ready) }, s.ready ? 'ready' : 'not ready'),
        ),
        facts([
          ['Reason', s.reason ?? '—'],
          ['Detail', s.detail],
          ['Since', when(s.since)],
          ['NATS', s.nats],
          ['Projector', s.projector],
          ['Lag', `${s.lag} events, ${s.lagMs} ms`],
          ['Applied / delivered / stream', `${s.appliedSeq} / ${s.deliveredSeq} / ${s.streamSeq}`],
          ['Catching up to', s.catchUpTo === null ? '—' : String(s.catchUpTo)],
        ]),
      );
    } catch (error) {
      if (!stopped) box.replaceChildren(errorLine(error));
    }
  }

  void load();
  const timer = setInterval(() => {
    if (!document.hidden) void load();
  }, REFRESH_MS);
  return {
    unmount() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

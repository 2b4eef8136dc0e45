import type { ServerRuntime } from './server-runtime.ts';

/** How often a server that is catching up says how far it got. */
const PROGRESS_EVERY_MS = 2_000;

/**
 * Resolves once the server is ready; until then, says every two seconds how far its read model has
 * caught up with the stream (a restart after a long stop replays what it missed before it serves).
 */
export async function reportCatchUp(runtime: ServerRuntime, say: (line: string) => void): Promise<void> {
  const readiness = runtime.node.ctx.readiness;
  if (readiness.ready) return;
  let last = { at: Date.now(), seq: readiness.snapshot().appliedSeq };
  say(`AM server on ${runtime.url} is not ready yet: ${readiness.snapshot().detail}`);
  const timer = setInterval(() => {
    const snapshot = readiness.snapshot();
    if (snapshot.ready) return;
    const now = Date.now();
    const rate = Math.round(((snapshot.appliedSeq - last.seq) * 1000) / Math.max(1, now - last.at));
    last = { at: now, seq: snapshot.appliedSeq };
    say(`  ${snapshot.detail}${rate > 0 ? ` (${rate} events/s)` : ''}`);
  }, PROGRESS_EVERY_MS);
  try {
    await runtime.ready;
  } finally {
    clearInterval(timer);
  }
}

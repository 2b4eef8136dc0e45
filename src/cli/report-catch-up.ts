import type { ServerRuntime } from './server-runtime.ts';

/** A server not ready after this long says so (a fresh one is ready within milliseconds). */
const QUIET_MS = 500;
/** How often a server that is catching up says how far it got. */
const PROGRESS_EVERY_MS = 2_000;

/**
 * Resolves once the server is ready; a server still not ready after half a second says so, and then every
 * two seconds how far its read model has caught up with the stream (a restart after a long stop replays
 * what it missed before it serves).
 */
export async function reportCatchUp(runtime: ServerRuntime, say: (line: string) => void): Promise<void> {
  const readiness = runtime.node.ctx.readiness;
  let last: { at: number; seq: number } | null = null;
  const report = () => {
    const snapshot = readiness.snapshot();
    if (snapshot.ready) return;
    const now = Date.now();
    if (last === null) {
      say(`AM server on ${runtime.url} is not ready yet: ${snapshot.detail}`);
    } else {
      const rate = Math.round(((snapshot.appliedSeq - last.seq) * 1000) / Math.max(1, now - last.at));
      say(`  ${snapshot.detail}${rate > 0 ? ` (${rate} events/s)` : ''}`);
    }
    last = { at: now, seq: snapshot.appliedSeq };
  };
  let interval: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    report();
    interval = setInterval(report, PROGRESS_EVERY_MS);
  }, QUIET_MS);
  try {
    await runtime.ready;
  } finally {
    clearTimeout(first);
    clearInterval(interval);
  }
}

/**
 * `npm run bench:append-floor`: what JetStream alone allows a task to cost on this machine. A task is two
 * appends with an expected-subject-sequence check (its claim, its completion), so with N worker slots
 * about 2N such appends are in flight. This times bare appends (the official client, no AM code, a
 * private nats-server as AM runs it) from `lanes` concurrent writers, each appending to its own subject
 * after its previous ack — the ceiling any design on these two appends per task has here, before AM's
 * own request round trip, fold and reply. Prints JSON.
 *
 * Env: BENCH_LANES (8,16,32), BENCH_SECONDS (4 per lane count).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startNatsServerProcess } from '../src/store/nats-server-process.ts';
import { type HeadlineRow, percentiles, printReport, round } from './support/bench-kit.ts';

const LANES = (process.env.BENCH_LANES ?? '8,16,32').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
/** About the size of a no-op TaskCompleted as AM stores it. */
const PAYLOAD = new TextEncoder().encode(
  JSON.stringify({ type: 'TaskCompleted', data: { output: 'x'.repeat(300) } }),
);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'am-bench-append-floor-'));
  const server = await startNatsServerProcess({ storeDir: join(dir, 'nats') });
  const nc = await connect({ servers: server.url });
  try {
    await (await jetstreamManager(nc)).streams.add({ name: 'FLOOR', subjects: ['floor.>'] });
    const js = jetstream(nc);
    const byLanes: Record<string, { appendsPerSec: number; latencyMs: Record<string, number> }> = {};
    for (const lanes of LANES) {
      const latencies: number[] = [];
      const end = performance.now() + SECONDS * 1000;
      await Promise.all(
        Array.from({ length: lanes }, async (_, lane) => {
          let last = 0;
          while (performance.now() < end) {
            const startedAt = performance.now();
            const ack = await js.publish(`floor.${lanes}.${lane}`, PAYLOAD, {
              expect: { lastSubjectSequence: last },
            });
            latencies.push(performance.now() - startedAt);
            last = ack.seq;
          }
        }),
      );
      byLanes[lanes] = {
        appendsPerSec: Math.round(latencies.length / SECONDS),
        latencyMs: percentiles(latencies),
      };
      process.stderr.write(`append-floor: ${lanes} lanes ${JSON.stringify(byLanes[lanes])}\n`);
    }
    const sixteen = byLanes[16];
    const headline: HeadlineRow[] =
      sixteen === undefined
        ? []
        : [
            {
              figure:
                'Bare JetStream CAS appends at 16 in flight ÷ 2 (the task rate two appends per task allow, 8 slots)',
              value: round(sixteen.appendsPerSec / 2, 0),
              unit: 'tasks/s',
              goal: 'information: the ceiling of the throughput rows',
              met: null,
            },
          ];
    printReport({
      benchmark: 'append-floor',
      headline,
      nats: 'private nats-server, file storage',
      secondsPerLaneCount: SECONDS,
      byLanes,
    });
  } finally {
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeHeaders } from '../../src/nats/encoded-headers.ts';
import { NatsNoRespondersError, NatsRequestMux } from '../../src/nats/request-mux.ts';
import { EventStore } from '../../src/store/event-store.ts';
import { am, killAll, type Proc, type ServerProc, startServer } from '../e2e/support/processes.ts';
import { TrailBuilder } from '../fixtures/trail-builder.ts';
import { freePort, makeTempDir, startTestNats, type TestNats, testNatsIsExternal } from '../kit/index.ts';
import { readyz } from './support.ts';

const GRAPHS = 500;
/** Events per graph: its submission, a claim and progress steps. */
const EVENTS_PER_GRAPH = 100;

interface Sample {
  at: number;
  status: number | null;
  body: Record<string, unknown>;
  /** What a NATS command sent right after this /readyz answer got. */
  nats: 'answered' | 'no responders' | string;
}

/**
 * A server stopped while 50,000 events are appended by another writer, then started again on its read
 * model: while it replays what it missed, /readyz is 503 and it is not in the NATS queue group (a command
 * gets "no responders"); then it is ready and serves.
 */
describe.skipIf(testNatsIsExternal())('a server restarted 50,000 events behind', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let dir: string;
  let first: ServerProc;
  let restarted: Proc;
  let url: string;
  let tail = 0;
  const samples: Sample[] = [];

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await nats.connect('catch-up-writer');
    dir = makeTempDir('am-chaos-catch-up');
    const db = join(dir, 'read-model.sqlite');
    first = await startServer({ natsUrl: nats.url, dir, env: { AM_DB: db } });
    expect(await first.proc.stop('SIGTERM')).toBe(0);

    // Another writer appends while the server is away.
    const store = await EventStore.open(nc, nats.settings);
    let base = await store.lastSeq();
    for (let g = 0; g < GRAPHS; g++) {
      const b = new TrailBuilder(store.subjects, randomUUID(), { baseSeq: base, startMs: Date.now() });
      b.submit(`catch-up graph ${g}`, [{ id: 't', title: 'T', instructions: 'Report progress' }]);
      const token = b.claim('t', 'bulk-writer');
      for (let i = 0; i < EVENTS_PER_GRAPH - 2; i++) {
        b.progress('t', 'bulk-writer', token, i, {
          thought: `step ${i}`,
          action: { type: 'final', answer: 'ok' },
        });
      }
      // Submission and claim in order (the claim expects the task subject empty); the steps all at once.
      const [submitted, claimed, ...steps] = b.entries;
      for (const entry of [submitted, claimed]) {
        if (!entry) continue;
        await store.append({
          subject: entry.subject,
          event: entry.event,
          expectedLastSubjectSeq: entry.expectedSeq,
          msgId: entry.msgId,
        });
      }
      await Promise.all(
        steps.map((entry) =>
          store.append({
            subject: entry.subject,
            event: entry.event,
            expectedLastSubjectSeq: null,
            msgId: entry.msgId,
          }),
        ),
      );
      base = b.lastSeq;
    }
    tail = await store.lastSeq();
    await store.close();

    // Started again on the same read model; sampled from the moment it listens until it is ready.
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    restarted = am(['server', '--port', String(port)], {
      NATS_URL: nats.url,
      AM_ADMIN_TOKEN: first.adminToken,
      AM_DB: db,
      AM_HOME: dir,
      AM_LLM_PROVIDER: 'offline',
    });
    // A client's inbox: the service answers no reply subject under its own prefix (connectNats's default).
    const requests = new NatsRequestMux(nc, { inboxPrefix: '_INBOX.catch-up-client' });
    const authorization = encodeHeaders([['authorization', `Bearer ${first.adminToken}`]]);
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const probe = await readyz({ url, adminToken: first.adminToken }).catch(() => null);
      if (probe === null) {
        await sleep(25);
        continue;
      }
      let outcome: Sample['nats'];
      try {
        const reply = await requests.request('am.cmd.v1.ListGraphs', '{"limit":1}', {
          timeoutMs: 2_000,
          headers: authorization,
        });
        const body = JSON.parse(new TextDecoder().decode(reply.data)) as {
          ok: boolean;
          error?: { code: string };
        };
        outcome = body.ok ? 'answered' : (body.error?.code ?? 'error');
      } catch (error) {
        outcome = error instanceof NatsNoRespondersError ? 'no responders' : (error as Error).name;
      }
      samples.push({ at: Date.now(), status: probe.status, body: probe.body, nats: outcome });
      if (probe.status === 200 && outcome === 'answered') break;
      await sleep(25);
    }
    requests.close();
  }, 200_000);

  afterAll(async () => {
    await killAll();
    await nats?.cleanup();
  });

  it('was 503 catching_up while it replayed, saying how far it had got', () => {
    const catchingUp = samples.filter((s) => s.status === 503);
    expect(catchingUp.length).toBeGreaterThan(0);
    for (const sample of catchingUp) {
      expect(sample.body).toMatchObject({ ready: false, reason: 'catching_up' });
    }
    const withTarget = catchingUp.filter((s) => s.body.catchUpTo !== null);
    expect(withTarget.length).toBeGreaterThan(0);
    expect(withTarget.at(-1)?.body.catchUpTo).toBeGreaterThanOrEqual(tail);
    expect(Number(withTarget[0]?.body.appliedSeq)).toBeLessThan(tail);
    console.log(
      JSON.stringify({
        eventsBehind: tail,
        notReadySamples: catchingUp.length,
        notReadyForMs: (catchingUp.at(-1)?.at ?? 0) - (catchingUp[0]?.at ?? 0),
        appliedAtFirstSample: catchingUp[0]?.body.appliedSeq,
      }),
    );
  });

  it('took no NATS command while it was not ready: they got "no responders"', () => {
    const whileNotReady = samples.filter((s) => s.status === 503);
    expect(whileNotReady.some((s) => s.nats === 'no responders')).toBe(true);
    for (const [i, sample] of samples.entries()) {
      if (sample.status !== 503 || sample.nats === 'no responders') continue;
      // Readiness can turn between the /readyz answer and the NATS request: an answer is only wrong if
      // the server still said "not ready" afterwards.
      expect({ nats: sample.nats, nextStatus: samples[i + 1]?.status }).toEqual({
        nats: 'answered',
        nextStatus: 200,
      });
    }
  });

  it('then is ready at the end of the stream, serves NATS commands, and said so on its output', async () => {
    const last = samples.at(-1);
    expect(last).toMatchObject({ status: 200, nats: 'answered', body: { ready: true } });
    expect(Number(last?.body.appliedSeq)).toBeGreaterThanOrEqual(tail);
    expect(restarted.output()).toMatch(/AM server listening on/);
    // A server still not ready after half a second says so, then how far it got, every two seconds.
    const notReady = samples.filter((s) => s.status === 503);
    if ((notReady.at(-1)?.at ?? 0) - (notReady[0]?.at ?? 0) > 1_000) {
      expect(restarted.output()).toMatch(/not ready yet: .*\n(.|\n)*AM server listening on/);
    }
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, type Proc, type ServerProc, startServer, submitGraph } from '../e2e/support/processes.ts';
import { makeTempDir, startTestNats, type TestNats, testNatsIsExternal } from '../kit/index.ts';
import {
  acknowledgedResults,
  completionAnomalies,
  eventsOf,
  readStream,
  readyz,
  slowWorker,
} from './support.ts';

const GRAPHS = 5;
const TASKS = 30;
const KILLS = 3;
const DOWN_MS = 3_000;
const UP_MS = 4_000;

/**
 * nats-server SIGKILLed three times under load and restarted on its store each time: an `am server`,
 * three worker processes (two over HTTP, one over NATS) with tasks that take 200 ms, five graphs of 30
 * tasks, and a probe submitting a one-task graph every 100 ms. Everything is judged from the stream.
 */
describe.skipIf(testNatsIsExternal())('nats-server killed -9 three times mid-run', () => {
  let nats: TestNats;
  let server: ServerProc;
  const workers: Proc[] = [];
  const probes: Array<{ graphId: string; seq: number }> = [];
  const probeRefusals = new Map<string, number>();
  const graphIds: string[] = [];
  let lastRestartAt = 0;
  let recoveredAt = 0;
  const restarts: number[] = [];
  const readinessChanges: Array<{ at: number; ready: boolean }> = [];

  beforeAll(async () => {
    nats = await startTestNats();
    const dir = makeTempDir('am-chaos-nats-kill');
    server = await startServer({ natsUrl: nats.url, dir, env: { AM_LOG_LEVEL: 'warn' } });
    for (const [i, transport] of (['http', 'http', 'nats'] as const).entries()) {
      workers.push(
        await slowWorker(server, dir, `chaos-w${i}`, {
          transport,
          natsUrl: nats.url,
          slowMs: 200,
          concurrency: 2,
        }),
      );
    }
    for (let g = 0; g < GRAPHS; g++) {
      const { graphId } = await submitGraph(server, {
        goal: `chaos graph ${g}`,
        tasks: Array.from({ length: TASKS }, (_, t) => ({
          id: `t${t}`,
          title: `Task ${t}`,
          instructions: `Compute chaos step ${t}`,
          ...(t >= 10 ? { dependsOn: [`t${t - 10}`] } : {}),
        })),
      });
      graphIds.push(graphId);
    }
    // The probe: a small graph every 100 ms, through the whole run; only a 202 counts as acknowledged.
    let probing = true;
    const probe = (async () => {
      for (let i = 0; probing; i++) {
        const startedAt = Date.now();
        try {
          const response = await fetch(`${server.url}/v1/tasks`, {
            method: 'POST',
            headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              goal: `probe ${i}`,
              tasks: [{ id: 'p', title: 'Probe', instructions: 'Answer the probe' }],
            }),
            signal: AbortSignal.timeout(3_000),
          });
          const body = (await response.json()) as { graphId?: string; seq?: number; code?: string };
          if (response.status === 202 && body.graphId && body.seq) {
            probes.push({ graphId: body.graphId, seq: body.seq });
          } else {
            const key = String(body.code ?? response.status);
            probeRefusals.set(key, (probeRefusals.get(key) ?? 0) + 1);
          }
        } catch (error) {
          const name = (error as Error).name;
          probeRefusals.set(name, (probeRefusals.get(name) ?? 0) + 1);
        }
        await sleep(Math.max(0, 100 - (Date.now() - startedAt)));
      }
    })();
    // Readiness as an operator's probe sees it: when each restart was followed by ready again.
    const sampler = (async () => {
      let wasReady = true;
      while (probing) {
        const ready = await readyz(server)
          .then((r) => r.status === 200)
          .catch(() => false);
        if (ready !== wasReady) readinessChanges.push({ at: Date.now(), ready });
        wasReady = ready;
        await sleep(100);
      }
    })();
    await sleep(2_000);
    for (let k = 0; k < KILLS; k++) {
      await nats.kill();
      await sleep(DOWN_MS);
      await nats.restart();
      lastRestartAt = Date.now();
      restarts.push(lastRestartAt);
      await sleep(UP_MS);
    }
    probing = false;
    await probe;
    await sampler;
    // Every graph, the probes' too, must succeed within 60 s of the last restart.
    const all = new Set([...graphIds, ...probes.map((p) => p.graphId)]);
    const deadline = lastRestartAt + 60_000;
    for (;;) {
      const entries = await readStream(nats);
      const succeeded = new Set(
        eventsOf(entries)
          .filter((e) => e.event.type === 'GraphSucceeded')
          .map((e) => e.event.graphId),
      );
      if ([...all].every((id) => succeeded.has(id))) {
        recoveredAt = Date.now();
        break;
      }
      if (Date.now() > deadline) {
        const missing = [...all].filter((id) => !succeeded.has(id));
        throw new Error(
          `${missing.length} of ${all.size} graphs had not succeeded 60 s after the last restart\n` +
            `--- server:\n${server.proc.output().slice(-4_000)}\n` +
            workers.map((w, i) => `--- worker ${i}:\n${w.output().slice(-2_000)}`).join('\n'),
        );
      }
      await sleep(1_000);
    }
  }, 200_000);

  afterAll(async () => {
    await killAll();
    await nats?.cleanup();
  });

  it('every graph succeeded within 60 s of the last restart', () => {
    expect(recoveredAt).toBeGreaterThan(0);
    expect(recoveredAt - lastRestartAt).toBeLessThan(60_000);
    expect(probes.length).toBeGreaterThan(50);
  });

  it('the server said it was not ready while NATS was down, and was ready again after each restart', () => {
    for (const restartAt of restarts) {
      const down = readinessChanges.filter(
        (c) => !c.ready && c.at < restartAt && c.at > restartAt - DOWN_MS - 1_000,
      );
      const back = readinessChanges.find((c) => c.ready && c.at >= restartAt);
      expect(down.length).toBeGreaterThan(0);
      expect(back).toBeDefined();
      expect((back?.at ?? 0) - restartAt).toBeLessThan(UP_MS);
    }
  });

  it('every acknowledged write is in the stream: each probe submission and each result a worker was told was stored', async () => {
    const entries = await readStream(nats);
    const bySeq = new Map(eventsOf(entries).map((e) => [e.seq, e.event]));
    for (const { graphId, seq } of probes) {
      expect({ seq, ...pick(bySeq.get(seq)) }).toEqual({
        seq,
        type: 'GraphSubmitted',
        graphId,
        taskId: undefined,
      });
    }
    const results = workers.flatMap(acknowledgedResults);
    expect(results.length).toBeGreaterThan(GRAPHS * TASKS);
    for (const { graphId, taskId, seq } of results) {
      expect({ seq, ...pick(bySeq.get(seq)) }).toEqual({ seq, type: 'TaskCompleted', graphId, taskId });
    }
  });

  it('no task has two accepted completions in a cycle, every completion came from the current claim, no claim was orphaned', async () => {
    const events = eventsOf(await readStream(nats));
    const anomalies = completionAnomalies(events);
    expect(anomalies.duplicates).toEqual([]);
    expect(anomalies.notFromCurrentClaim).toEqual([]);
    // No worker is killed here: a lease that ran out is a claim whose holder never heard of it, or a
    // result refused though its claim was current. Both would wait out the 60 s lease.
    const leaseExpiries = events
      .filter((e) => e.event.type === 'TaskLeaseExpired')
      .map((e) => `${e.event.graphId}/${e.event.taskId} at ${e.at}`);
    const lost = workers.flatMap((w) =>
      w
        .output()
        .split('\n')
        .filter((line) => line.startsWith('lost ')),
    );
    // The figures for the closing note.
    console.log(
      JSON.stringify({
        kills: KILLS,
        downMs: DOWN_MS,
        graphs: GRAPHS,
        tasksPerGraph: TASKS,
        probesAcknowledged: probes.length,
        probeRefusals: Object.fromEntries(probeRefusals),
        completions: anomalies.completions,
        duplicates: anomalies.duplicates.length,
        allSucceededSecondsAfterLastRestart: (recoveredAt - lastRestartAt) / 1000,
        readySecondsAfterEachRestart: restarts.map((at) => {
          const back = readinessChanges.find((c) => c.ready && c.at >= at);
          return back ? (back.at - at) / 1000 : null;
        }),
        streamEvents: events.length,
        feedRestarts: server.proc.output().split('the event feed stopped delivering').length - 1,
        leaseExpiries,
        lost,
      }),
    );
    expect(leaseExpiries).toEqual([]);
    expect(lost).toEqual([]);
  });

  it('the server is ready again with its read model at the end of the stream', async () => {
    let last: Awaited<ReturnType<typeof readyz>> | null = null;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      last = await readyz(server);
      if (last.status === 200 && last.body.lag === 0) break;
      await sleep(200);
    }
    expect(last?.status).toBe(200);
    expect(last?.body).toMatchObject({ ready: true, reason: null, lag: 0, nats: 'connected' });
  });
});

function pick(event: { type: string; graphId?: string; taskId?: string } | undefined) {
  return { type: event?.type, graphId: event?.graphId, taskId: event?.taskId };
}

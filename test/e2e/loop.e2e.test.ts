import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Projector, ReadModel } from '../../src/projections/index.ts';
import type { TaskGraph, TrailEvent } from '../../src/protocol/index.ts';
import { EventStore } from '../../src/store/event-store.ts';
import { type FakeOpenAiServer, jsonReply, startFakeOpenAiServer } from '../fixtures/fake-openai-server.ts';
import { makeTempDir, startTestNats, type TestNats } from '../kit/index.ts';
import {
  am,
  api,
  isTerminal,
  killAll,
  type Proc,
  ROOT,
  type ServerProc,
  spawnProc,
  startServer,
  submitGraph,
  trail,
  waitForGraph,
  workerConfig,
} from './support/processes.ts';

/** Four parallel tasks, then dependents: d1 ← p1, p2; d2 ← d1, p3. p2 is bad in cycle 1 only. */
function loopGraph(badMarker: string) {
  return {
    goal: 'Prepare a short report on queue designs',
    tasks: [
      { id: 'p1', title: 'Survey queues', instructions: 'Survey three queue designs.' },
      {
        id: 'p2',
        title: 'Compute throughput',
        instructions: `Compute 1200*3 as messages per second. ${badMarker}`,
      },
      { id: 'p3', title: 'List risks', instructions: 'List the risks of each queue design.' },
      { id: 'p4', title: 'Find examples', instructions: 'Find an example user of each queue design.' },
      {
        id: 'd1',
        title: 'Compare',
        instructions: 'Compare the surveyed designs with the throughput.',
        dependsOn: ['p1', 'p2'],
      },
      {
        id: 'd2',
        title: 'Recommend',
        instructions: 'Recommend a design given the comparison and risks.',
        dependsOn: ['d1', 'p3'],
      },
    ],
  };
}
const WORK = ['p1', 'p2', 'p3', 'p4', 'd1', 'd2'];
const REWORK = ['d1', 'd2', 'p2'];

/** Asserts the seed checkpoint's order: work, GraphCompleted, AuditFailed (exact rework set), rework, GraphCompleted, AuditPassed, synthesis, GraphSucceeded. */
function assertLoopTrail(events: TrailEvent[]): void {
  const at = (type: string, n = 0) => events.filter((e) => e.type === type)[n]?.seq ?? Number.NaN;
  const completed1 = at('GraphCompleted', 0);
  const auditFailed = events.find((e) => e.type === 'AuditFailed');
  const completed2 = at('GraphCompleted', 1);
  const auditPassed = at('AuditPassed');
  const synthClaim =
    events.find((e) => e.type === 'TaskClaimed' && e.taskId === '_synthesis')?.seq ?? Number.NaN;
  const synthDone =
    events.find((e) => e.type === 'TaskCompleted' && e.taskId === '_synthesis')?.seq ?? Number.NaN;
  const succeeded = at('GraphSucceeded');
  expect(
    [completed1, auditFailed?.seq, completed2, auditPassed, synthClaim, synthDone, succeeded].every(
      Number.isFinite,
    ),
  ).toBe(true);
  expect(completed1).toBeLessThan(auditFailed!.seq);
  expect(auditFailed!.seq).toBeLessThan(completed2);
  expect(completed2).toBeLessThan(auditPassed);
  expect(auditPassed).toBeLessThan(synthClaim);
  expect(synthClaim).toBeLessThan(synthDone);
  expect(synthDone).toBeLessThan(succeeded);
  // Cycle 1: every work task claimed and completed before GraphCompleted, several at once by several workers.
  const cycle1 = events.filter((e) => e.seq < completed1);
  for (const id of WORK) {
    expect(cycle1.some((e) => e.type === 'TaskCompleted' && e.taskId === id)).toBe(true);
  }
  expect(
    new Set(cycle1.filter((e) => e.type === 'TaskClaimed').map((e) => e.actor)).size,
  ).toBeGreaterThanOrEqual(2);
  // The failed audit names p2, and the rework set is p2 and its dependents, no others.
  const data = auditFailed!.data as {
    rework: string[];
    report: { rework_suggestions: { taskId: string }[] };
  };
  expect([...data.rework].sort()).toEqual(REWORK);
  expect(data.report.rework_suggestions.map((s) => s.taskId)).toContain('p2');
  // Between the failed audit and the second GraphCompleted exactly the rework set runs again.
  const rework = events.filter(
    (e) => e.seq > auditFailed!.seq && e.seq < completed2 && e.type === 'TaskCompleted',
  );
  expect(rework.map((e) => e.taskId).sort()).toEqual(REWORK);
  expect(
    events.filter(
      (e) =>
        e.seq > auditFailed!.seq &&
        e.seq < completed2 &&
        e.type === 'TaskClaimed' &&
        !REWORK.includes(e.taskId ?? ''),
    ),
  ).toEqual([]);
  expect(
    String(
      (events.find((e) => e.type === 'GraphSucceeded')?.data as { output?: string } | undefined)?.output ??
        '',
    ).length,
  ).toBeGreaterThan(0);
}

async function startWorkers(
  server: ServerProc,
  nats: TestNats,
  dir: string,
  prefix: string,
  env: Record<string, string> = {},
): Promise<Proc[]> {
  const transports = ['http', 'nats', 'http'] as const;
  const workers: Proc[] = [];
  for (const [i, transport] of transports.entries()) {
    const config = await workerConfig(server, dir, `${prefix}-${transport}-${i}`, { nats_url: nats.url });
    workers.push(am(['worker', '--config', config, '--transport', transport], env));
  }
  // All three long-poll before work arrives, so the first READY tasks go to several workers at once.
  await Promise.all(workers.map((worker) => worker.waitFor(/ connected to /)));
  return workers;
}

describe('the orchestration loop, end to end (nats-server, server, 3 workers over HTTP and NATS)', () => {
  let nats: TestNats;
  let dir: string;

  beforeAll(async () => {
    nats = await startTestNats();
    dir = makeTempDir('am-e2e-loop');
  });

  afterAll(async () => {
    await killAll();
    await nats?.cleanup();
  });

  describe('with the offline model', () => {
    let server: ServerProc;
    let graphId: string;
    let graph: TaskGraph;
    let workers: Proc[];

    beforeAll(async () => {
      server = await startServer({ natsUrl: nats.url, dir, name: 'offline' });
      workers = await startWorkers(server, nats, dir, 'off');
      ({ graphId } = await submitGraph(server, loopGraph('[[BAD-ONCE]]')));
      graph = await waitForGraph(server, graphId, isTerminal);
    });

    it('fails cycle 1 on the named task, reworks exactly it and its dependents, passes, synthesizes and succeeds', async () => {
      expect(graph.graph.status).toBe('SUCCEEDED');
      expect(graph.audits.map((a) => a.passed)).toEqual([false, true]);
      assertLoopTrail(await trail(server, graphId));
    });

    it('GET /v1/graphs/:id/events returns the whole trail, and replaying it into an empty projection gives the live TaskGraph', async () => {
      const events = await trail(server, graphId);
      const seqs = events.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(events[0]?.type).toBe('GraphSubmitted');
      expect(events.at(-1)?.type).toBe('GraphSucceeded');
      const live = (await api<TaskGraph>(server.url, server.adminToken, 'GET', `/v1/graphs/${graphId}`)).body;
      const nc = await connect({ servers: nats.url });
      try {
        const store = await EventStore.open(nc, nats.settings);
        const readModel = ReadModel.open(join(dir, 'replay.sqlite'));
        const projector = new Projector({ readModel, source: store, subjects: store.subjects });
        await projector.rebuild();
        await projector.stop();
        expect(readModel.taskGraph(graphId)).toEqual(live);
        readModel.close();
      } finally {
        await nc.close();
      }
    });

    it('a graph whose audit never passes ends FAILED after maxReworkCycles+1 audits, keeping every report', async () => {
      const { graphId: failing } = await submitGraph(server, {
        ...loopGraph('[[BAD]]'),
        options: { maxReworkCycles: 1 },
      });
      const ended = await waitForGraph(server, failing, isTerminal);
      expect(ended.graph.status).toBe('FAILED');
      expect(ended.graph.failure?.reason).toBe('audit_not_passed');
      expect(ended.audits.map((a) => [a.cycle, a.passed])).toEqual([
        [1, false],
        [2, false],
      ]);
      expect(ended.audits.every((a) => a.report.rework_suggestions.some((s) => s.taskId === 'p2'))).toBe(
        true,
      );
    });

    it('a worker SIGKILLed while holding a task: its lease expires, another worker finishes, the graph succeeds', async () => {
      // Only the doomed worker runs while the tasks are handed out.
      await Promise.all(workers.map((worker) => worker.stop('SIGTERM')));
      const holder = await workerConfig(server, dir, 'doomed-holder');
      const { graphId: killed } = await submitGraph(server, {
        goal: 'survive a dead worker',
        tasks: [{ id: 'held', title: 'Held', instructions: 'Hold me.' }],
        options: { leaseMs: 1_500 },
      });
      const slow = spawnProc(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'test/fixtures/slow-worker.ts')],
        {
          AM_URL: server.url,
          AM_TOKEN: (JSON.parse(readFileSync(holder, 'utf8')) as { auth_token: string }).auth_token,
        },
      );
      await slow.waitFor(/claimed held/, 20_000);
      await slow.stop('SIGKILL');
      workers = await startWorkers(server, nats, dir, 'after');
      const ended = await waitForGraph(server, killed, isTerminal);
      expect(ended.graph.status).toBe('SUCCEEDED');
      const events = await trail(server, killed);
      expect(events.some((e) => e.type === 'TaskLeaseExpired' && e.taskId === 'held')).toBe(true);
      const done = events.find((e) => e.type === 'TaskCompleted' && e.taskId === 'held');
      expect(done?.actor).toMatch(/^after-/);
    });
  });

  describe('through a fake OpenAI-compatible server (the real SDK path)', () => {
    let fake: FakeOpenAiServer;
    let server: ServerProc;
    // Its own nats-server: the command service's queue group must not mix this server with the offline one.
    let oaiNats: TestNats;

    beforeAll(async () => {
      oaiNats = await startTestNats();
      fake = await startFakeOpenAiServer();
      fake.setFallback((request) => {
        const schema = request.body?.response_format?.json_schema?.name;
        const text = request.body?.messages.map((m) => m.content).join('\n') ?? '';
        switch (schema) {
          case 'react_step':
            return jsonReply({
              thought: 'I can answer directly.',
              action: { kind: 'final', tool: null, input: null, answer: 'A careful answer from the model.' },
            });
          case 'audit_report': {
            const cycle = Number(/Audit cycle: (\d+)/.exec(text)?.[1] ?? 0);
            return jsonReply(
              cycle === 1
                ? {
                    passed: false,
                    score: 0.2,
                    summary: 'The throughput is wrong.',
                    findings: ['p2 computed the wrong figure'],
                    rework_suggestions: [
                      { taskId: 'p2', problem: 'wrong figure', suggestion: 'recompute 1200*3' },
                    ],
                  }
                : { passed: true, score: 0.9, summary: 'Good.', findings: [], rework_suggestions: [] },
            );
          }
          case 'synthesis':
            return jsonReply({
              thought: 'Combine the outputs.',
              answer: 'The final report, written by the model.',
            });
          default:
            return { status: 400, body: { error: { message: `unscripted ${String(schema)}` } } };
        }
      });
      const llmEnv = { AM_LLM_PROVIDER: 'openai', OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'sk-test' };
      server = await startServer({ natsUrl: oaiNats.url, dir, name: 'openai', env: llmEnv });
      await startWorkers(server, oaiNats, dir, 'oai', llmEnv);
    });

    afterAll(async () => {
      await killAll();
      await fake?.close();
      await oaiNats?.cleanup();
    });

    it('runs the same loop with the model: audit fails p2, rework, pass, synthesis, success', async () => {
      const { graphId } = await submitGraph(server, loopGraph(''));
      const graph = await waitForGraph(server, graphId, isTerminal);
      expect({ status: graph.graph.status, failure: graph.graph.failure }).toEqual({
        status: 'SUCCEEDED',
        failure: null,
      });
      expect(graph.graph.output).toBe('The final report, written by the model.');
      assertLoopTrail(await trail(server, graphId));
      expect(fake.requests.some((r) => r.body?.response_format?.type === 'json_schema')).toBe(true);
      expect(graph.tasks.find((t) => t.id === 'p1')?.result?.model).not.toBe('offline');
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrailEvent } from '../../src/protocol/index.ts';
import { type FakeOpenAiServer, jsonReply, startFakeOpenAiServer } from '../fixtures/fake-openai-server.ts';
import { makeTempDir, startTestNats, type TestNats } from '../kit/index.ts';
import {
  am,
  isTerminal,
  killAll,
  type Proc,
  type ServerProc,
  startServer,
  submitGraph,
  trail,
  waitForGraph,
  workerConfig,
} from './support/processes.ts';

const MARKER_MS = 2_000;

/**
 * A manager process SIGKILLed while its auditor waits for the model: the AuditStarted marker stops being
 * renewed, a second server's manager takes the audit over once it lapses, and the cycle gets exactly one
 * audit outcome. Workers use NATS, so they keep working across the change of server.
 */
describe('a manager killed during an audit (two server processes, NATS workers)', () => {
  let nats: TestNats;
  let fake: FakeOpenAiServer;
  let first: ServerProc;
  let second: ServerProc;
  let graphId: string;
  let events: TrailEvent[];
  let firstAuditRequests = 0;
  const workers: Proc[] = [];

  beforeAll(async () => {
    nats = await startTestNats();
    const dir = makeTempDir('am-e2e-takeover');
    fake = await startFakeOpenAiServer();
    let firstServerAlive = true;
    fake.setFallback((request) => {
      if (request.body?.response_format?.json_schema?.name !== 'audit_report')
        return { status: 400, body: { error: { message: 'only the audit is scripted here' } } };
      if (firstServerAlive) {
        firstAuditRequests += 1;
        // Hang until the first server is killed; its socket closes and this reply goes nowhere.
        return { ...jsonReply({ passed: false }), delayMs: 120_000 };
      }
      return jsonReply({ passed: true, score: 0.9, summary: 'Good.', findings: [], rework_suggestions: [] });
    });
    const managerEnv = {
      AM_LLM_PROVIDER: 'openai',
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'sk-test',
      AM_MANAGER_MARKER_MS: String(MARKER_MS),
      AM_LLM_TIMEOUT_MS: '600000',
    };
    first = await startServer({ natsUrl: nats.url, dir, name: 'first', env: managerEnv });
    for (let i = 0; i < 3; i++) {
      const config = await workerConfig(first, dir, `tw${i}`, { nats_url: nats.url });
      // The workers run tasks offline: only the manager's auditor talks to the fake model.
      workers.push(am(['worker', '--config', config, '--transport', 'nats'], { AM_LLM_PROVIDER: 'offline' }));
    }
    await Promise.all(workers.map((worker) => worker.waitFor(/ connected to /)));
    ({ graphId } = await submitGraph(first, {
      goal: 'Audit me while my manager dies',
      tasks: [
        { id: 'a', title: 'A', instructions: 'Compute 2+2.' },
        { id: 'b', title: 'B', instructions: 'Compute 3+3.' },
        { id: 'c', title: 'C', instructions: 'Combine both sums.', dependsOn: ['a', 'b'] },
      ],
    }));
    const deadline = Date.now() + 60_000;
    while (firstAuditRequests === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(firstAuditRequests).toBe(1);
    const auditing = await waitForGraph(first, graphId, (g) => g.graph.status === 'AUDITING');
    expect(auditing.audits).toEqual([]);
    firstServerAlive = false;
    await first.proc.stop('SIGKILL');
    second = await startServer({
      natsUrl: nats.url,
      dir,
      name: 'second',
      adminToken: first.adminToken,
      env: managerEnv,
    });
    const graph = await waitForGraph(second, graphId, isTerminal, 90_000);
    expect(graph.graph.status).toBe('SUCCEEDED');
    events = await trail(second, graphId);
  }, 180_000);

  afterAll(async () => {
    await killAll();
    await fake?.close();
    await nats?.cleanup();
  });

  it('has exactly one audit outcome for the cycle, from the manager that took over', () => {
    const outcomes = events.filter((e) => e.type === 'AuditPassed' || e.type === 'AuditFailed');
    expect(outcomes.map((e) => e.type)).toEqual(['AuditPassed']);
    const markers = events
      .filter((e) => e.type === 'AuditStarted')
      .map((e) => ({
        seq: e.seq,
        at: Date.parse(e.at),
        ...(e.data as { attempt: number; leaseUntil: number }),
      }));
    // Attempt 1 is the dead manager's marker (with its renewals); attempt 2 the takeover, appended only
    // after attempt 1's last lease had run out.
    expect([...new Set(markers.map((m) => m.attempt))]).toEqual([1, 2]);
    const dead = markers.filter((m) => m.attempt === 1).at(-1)!;
    const takeover = markers.find((m) => m.attempt === 2)!;
    expect(takeover.at).toBeGreaterThanOrEqual(dead.leaseUntil);
    expect(takeover.seq).toBeLessThan(outcomes[0]!.seq);
    expect(firstAuditRequests).toBe(1);
  });

  it('keeps the work of the cycle: no task ran twice, the synthesis ran once after the audit', () => {
    const completions = events.filter((e) => e.type === 'TaskCompleted').map((e) => e.taskId);
    expect(completions.sort()).toEqual(['_synthesis', 'a', 'b', 'c']);
    expect(events.filter((e) => e.type === 'GraphCompleted')).toHaveLength(1);
    const passed = events.find((e) => e.type === 'AuditPassed')!;
    const synthesis = events.find((e) => e.type === 'TaskCompleted' && e.taskId === '_synthesis')!;
    expect(synthesis.seq).toBeGreaterThan(passed.seq);
    expect(events.at(-1)?.type).toBe('GraphSucceeded');
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../../src/store/connect.ts';
import { EventStore, type TrailEntry } from '../../src/store/event-store.ts';
import { DEFAULT_STORE_SETTINGS } from '../../src/store/stream-settings.ts';
import { completionAnomalies, eventsOf } from '../chaos/support.ts';
import {
  am,
  api,
  killAll,
  type Proc,
  type ServerProc,
  startServer,
  submitGraph,
} from '../e2e/support/processes.ts';
import { makeTempDir, removeTempDir } from '../kit/index.ts';
import { metaLeader, type NatsCluster, startNatsCluster, streamLeaderFromMonitor } from './nats-cluster.ts';

const GRAPHS_PER_KILL = 3;
const TASKS = 20;
/** How long a killed node stays down before it is started again on its store. */
const DOWN_MS = 8_000;
const SETTINGS = { ...DEFAULT_STORE_SETTINGS, replicas: 3 };

/** As a client would: a 503 (not ready, e.g. while its feed restarts) is retried for up to 30 s. */
async function submitWithRetry(server: ServerProc, body: unknown): Promise<{ graphId: string }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const reply = await api<{ graphId: string }>(server.url, server.adminToken, 'POST', '/v1/tasks', body);
    if (reply.status === 202) return reply.body;
    if (reply.status !== 503 || Date.now() > deadline)
      throw new Error(`submit: ${reply.status} ${JSON.stringify(reply.body)}`);
    await sleep(200);
  }
}

interface KillFigures {
  kind: 'stream leader' | 'meta leader';
  node: string;
  /** The stream's leader once a new one was elected (read from the surviving nodes). */
  newStreamLeader: string | null;
  newLeaderSeconds: number | null;
  writesAgainSeconds: number | null;
  allGraphsDoneSeconds: number | null;
}

/**
 * The shipped deploy/nats cluster configs on loopback: three nats-servers, two `am server`s with
 * AM_REPLICAS=3 and all three URLs, two HTTP and two NATS `am worker`s. The stream leader, then the meta
 * leader, is SIGKILLed mid-run and started again on its store; the stream is the judge afterwards.
 */
describe('a 3-node JetStream cluster from deploy/nats, leaders killed mid-run', () => {
  let dir: string;
  let cluster: NatsCluster;
  let nc: NatsConnection;
  const servers: ServerProc[] = [];
  const workers: Proc[] = [];
  const acknowledged: string[] = [];
  const figures: KillFigures[] = [];
  let probing = true;
  const probeAcks: number[] = [];
  const probeRefusals = new Map<string, number>();
  let streamReplicas = 0;
  let startedAt = 0;

  const readStream = async (): Promise<TrailEntry[]> => {
    const store = await EventStore.open(nc, SETTINGS);
    const entries = await store.readAll();
    await store.close();
    return entries;
  };
  const succeededGraphs = async () =>
    new Set(
      eventsOf(await readStream())
        .filter((e) => e.event.type === 'GraphSucceeded')
        .map((e) => e.event.graphId),
    );
  const waitAllSucceeded = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const done = await succeededGraphs().catch(() => new Set<string | undefined>());
      if (acknowledged.every((id) => done.has(id))) return Date.now();
      if (Date.now() > deadline) {
        throw new Error(
          `${acknowledged.filter((id) => !done.has(id)).length} of ${acknowledged.length} graphs not done\n` +
            servers.map((s, i) => `--- server ${i}:\n${s.proc.output().slice(-3_000)}`).join('\n') +
            workers.map((w, i) => `--- worker ${i}:\n${w.output().slice(-1_500)}`).join('\n'),
        );
      }
      await sleep(500);
    }
  };
  const submitBatch = async (label: string) => {
    for (let g = 0; g < GRAPHS_PER_KILL; g++) {
      const server = servers[g % servers.length] as ServerProc;
      const { graphId } = await submitWithRetry(server, {
        goal: `cluster ${label} graph ${g}`,
        tasks: Array.from({ length: TASKS }, (_, t) => ({
          id: `t${t}`,
          title: `Task ${t}`,
          instructions: `Compute cluster step ${t}`,
          ...(t >= 5 ? { dependsOn: [`t${t - 5}`] } : {}),
        })),
      });
      acknowledged.push(graphId);
    }
  };
  /** Kills `node`, times the first write acknowledged after it, restarts it, times all graphs done. */
  const killMidRun = async (kind: KillFigures['kind'], node: string) => {
    await submitBatch(kind);
    await sleep(1_000);
    const killedAt = Date.now();
    await cluster.kill(node);
    let newStreamLeader: string | null = null;
    let newLeaderAt = 0;
    const leaderDeadline = Date.now() + DOWN_MS;
    while (newStreamLeader === null && Date.now() < leaderDeadline) {
      const leader = await streamLeaderFromMonitor(cluster, SETTINGS.streamName, node);
      if (leader && leader !== node) {
        newStreamLeader = leader;
        newLeaderAt = Date.now();
      } else await sleep(100);
    }
    const writeDeadline = Date.now() + 30_000;
    while (!probeAcks.some((at) => at > killedAt) && Date.now() < writeDeadline) await sleep(50);
    const firstWrite = probeAcks.find((at) => at > killedAt);
    await sleep(Math.max(0, killedAt + DOWN_MS - Date.now()));
    await cluster.restart(node);
    const doneAt = await waitAllSucceeded(60_000);
    figures.push({
      kind,
      node,
      newStreamLeader,
      newLeaderSeconds: newStreamLeader === null ? null : (newLeaderAt - killedAt) / 1000,
      writesAgainSeconds: firstWrite === undefined ? null : (firstWrite - killedAt) / 1000,
      allGraphsDoneSeconds: (doneAt - killedAt) / 1000,
    });
  };

  beforeAll(async () => {
    startedAt = Date.now();
    dir = makeTempDir('am-cluster');
    cluster = await startNatsCluster(dir);
    const natsEnv = {
      AM_REPLICAS: '3',
      NATS_USER: 'am-service',
      NATS_PASSWORD: cluster.servicePassword,
      AM_LOG_LEVEL: 'warn',
    };
    // The first server keeps the users file current (deploy/README.md) and reloads node 1; the other
    // nodes include the same file and are reloaded below once it names the agents.
    servers.push(
      await startServer({
        natsUrl: cluster.urls,
        dir,
        name: 'a',
        env: {
          ...natsEnv,
          AM_NATS_USERS_FILE: cluster.usersFile,
          AM_NATS_PID_FILE: cluster.nodes[0]?.pidFile,
        },
      }),
    );
    servers.push(
      await startServer({
        natsUrl: cluster.urls,
        dir,
        name: 'b',
        adminToken: servers[0]?.adminToken,
        env: natsEnv,
      }),
    );
    nc = await connectNats({
      servers: cluster.urls.split(','),
      user: 'am-service',
      pass: cluster.servicePassword,
    });
    const info = await (await jetstreamManager(nc)).streams.info(SETTINGS.streamName);
    streamReplicas = info.config.num_replicas;

    const agents = ['cw-http-0', 'cw-http-1', 'cw-nats-0', 'cw-nats-1'];
    const configs: string[] = [];
    for (const [i, agentId] of agents.entries()) {
      const server = servers[i % 2] as ServerProc;
      const reply = await api<{ token: string; natsUser: string; natsPassword: string }>(
        server.url,
        server.adminToken,
        'POST',
        '/v1/agents',
        { agentId, role: 'worker' },
      );
      expect(reply.status).toBe(201);
      const file = join(dir, `${agentId}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          client_agent_id: agentId,
          server_url: server.url,
          auth_token: reply.body.token,
          nats_url: cluster.urls,
          nats_user: reply.body.natsUser,
          nats_password: reply.body.natsPassword,
        }),
      );
      configs.push(file);
    }
    const deadline = Date.now() + 20_000;
    while (!agents.every((id) => readFileSync(cluster.usersFile, 'utf8').includes(`am-agent-${id}`))) {
      if (Date.now() > deadline)
        throw new Error(`users file never named the agents:\n${servers[0]?.proc.output()}`);
      await sleep(100);
    }
    cluster.reload();
    await sleep(500);
    for (const [i, agentId] of agents.entries()) {
      const transport = agentId.includes('nats') ? 'nats' : 'http';
      workers.push(
        am(['worker', '--config', configs[i] ?? '', '--transport', transport, '--concurrency', '2'], {
          AM_LLM_PROVIDER: 'offline',
          AM_LOG_LEVEL: 'warn',
        }),
      );
    }
    await Promise.all(workers.map((w) => w.waitFor(/ connected to /, 30_000)));

    // The probe: a one-task graph every 150 ms, alternating servers; only a 202 counts as acknowledged.
    const probe = (async () => {
      for (let i = 0; probing; i++) {
        const server = servers[i % 2] as ServerProc;
        const sentAt = Date.now();
        try {
          const { graphId } = await submitGraph(server, {
            goal: `probe ${i}`,
            tasks: [{ id: 'p', title: 'Probe', instructions: 'Answer the probe' }],
          });
          acknowledged.push(graphId);
          probeAcks.push(sentAt);
        } catch (error) {
          // Refused or timed out: not acknowledged, so not owed.
          const key = /submit: (\d+)/.exec((error as Error).message)?.[1] ?? (error as Error).name;
          probeRefusals.set(key, (probeRefusals.get(key) ?? 0) + 1);
        }
        await sleep(Math.max(0, 150 - (Date.now() - sentAt)));
      }
    })();

    const streamLeader = (await (await jetstreamManager(nc)).streams.info(SETTINGS.streamName)).cluster
      ?.leader;
    if (!streamLeader) throw new Error('the stream has no leader');
    await killMidRun('stream leader', streamLeader);
    const meta = await metaLeader(cluster);
    if (!meta) throw new Error('no meta leader in /jsz');
    await killMidRun('meta leader', meta);
    probing = false;
    await probe;
    await waitAllSucceeded(60_000);
  }, 170_000);

  afterAll(async () => {
    probing = false;
    await nc?.close().catch(() => {});
    await killAll();
    if (dir) removeTempDir(dir);
  });

  it('AM created the stream with three replicas', () => {
    expect(streamReplicas).toBe(3);
  });

  it('the cluster took writes again after each kill, and every acknowledged graph exists and succeeded', async () => {
    expect(figures.map((f) => f.kind)).toEqual(['stream leader', 'meta leader']);
    for (const f of figures) {
      // One node of three down: a new leader and writes again while it is still down (quorum of two).
      expect(f.newStreamLeader).not.toBeNull();
      expect(f.writesAgainSeconds).not.toBeNull();
      expect(f.writesAgainSeconds ?? Infinity).toBeLessThan(DOWN_MS / 1000);
    }
    const events = eventsOf(await readStream());
    const submitted = new Set(
      events.filter((e) => e.event.type === 'GraphSubmitted').map((e) => e.event.graphId),
    );
    const succeeded = new Set(
      events.filter((e) => e.event.type === 'GraphSucceeded').map((e) => e.event.graphId),
    );
    const lost = acknowledged.filter((id) => !submitted.has(id));
    const notSucceeded = acknowledged.filter((id) => !succeeded.has(id));
    expect(lost).toEqual([]);
    expect(notSucceeded).toEqual([]);
    expect(acknowledged.length).toBeGreaterThan(2 * GRAPHS_PER_KILL);
  });

  it('no task has two accepted completions in a cycle; every completion came from the current claim', async () => {
    const events = eventsOf(await readStream());
    const anomalies = completionAnomalies(events);
    expect(anomalies.duplicates).toEqual([]);
    expect(anomalies.notFromCurrentClaim).toEqual([]);
    const claims = events.filter((e) => e.event.type === 'TaskClaimed').length;
    console.log(
      JSON.stringify({
        nodes: 3,
        replicas: streamReplicas,
        graphs: acknowledged.length,
        tasksCompleted: new Set(
          events
            .filter((e) => e.event.type === 'TaskCompleted')
            .map((e) => `${e.event.graphId}/${e.event.taskId}`),
        ).size,
        probesAcknowledged: probeAcks.length,
        probeRefusals: Object.fromEntries(probeRefusals),
        completions: anomalies.completions,
        claims,
        kills: figures,
        duplicates: anomalies.duplicates.length,
        lost: 0,
        streamEvents: events.length,
        feedRestarts: servers.map((s) => s.proc.output().split('the event feed stalled').length - 1),
        totalSeconds: (Date.now() - startedAt) / 1000,
      }),
    );
  });
});

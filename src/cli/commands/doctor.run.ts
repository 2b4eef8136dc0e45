import { jetstreamManager } from '@nats-io/jetstream';
import { type Config, loadConfig, natsServers } from '../../config.ts';
import { closeNats, connectNats } from '../../store/connect.ts';
import { assessClock, assessNats, type Finding, type NatsFacts } from '../doctor-findings.ts';
import { type ClientTarget, resolveClient } from '../resolve-client.ts';

export interface DoctorOptions {
  config?: string;
}

const TIMEOUT_MS = 5_000;

/**
 * What `am doctor` does: asks the server (reachable, token, role, readiness and lag, clock) and, when this
 * environment can reach NATS as the AM servers do (NATS_URL), the stream (replicas on a cluster, server
 * version). Prints one line per check with what to fix; exits 1 when any check failed.
 */
export async function runDoctor(opts: DoctorOptions): Promise<void> {
  const config = loadConfig();
  const target = resolveClient(config, opts.config);
  const findings = [...(await checkServer(target)), ...(await checkNats(config))];
  for (const finding of findings) {
    process.stdout.write(`${finding.level.padEnd(5)} ${finding.check.padEnd(16)} ${finding.detail}\n`);
    if (finding.fix !== undefined) process.stdout.write(`${' '.repeat(23)}→ ${finding.fix}\n`);
  }
  const failed = findings.filter((f) => f.level === 'fail').length;
  const warned = findings.filter((f) => f.level === 'warn').length;
  process.stdout.write(
    failed > 0
      ? `${failed} check(s) failed${warned > 0 ? `, ${warned} warning(s)` : ''}\n`
      : `all checks passed${warned > 0 ? ` with ${warned} warning(s)` : ''}\n`,
  );
  if (failed > 0) process.exitCode = 1;
}

async function get(
  target: ClientTarget,
  path: string,
  withToken = true,
): Promise<{ status: number; body: unknown; date: Date | null; sentAt: number; receivedAt: number }> {
  const sentAt = Date.now();
  const response = await fetch(new URL(path, target.url), {
    headers: withToken ? { authorization: `Bearer ${target.token}` } : {},
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const receivedAt = Date.now();
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  const date = response.headers.get('date');
  return { status: response.status, body, date: date ? new Date(date) : null, sentAt, receivedAt };
}

async function checkServer(target: ClientTarget): Promise<Finding[]> {
  let health: Awaited<ReturnType<typeof get>>;
  try {
    health = await get(target, '/healthz', false);
  } catch (error) {
    return [
      {
        level: 'fail',
        check: 'server',
        detail: `cannot reach ${target.url} (${(error as Error).message})`,
        fix: `start the server, or fix the URL in ${target.source}`,
      },
    ];
  }
  const findings: Finding[] = [
    health.status === 200
      ? {
          level: 'ok',
          check: 'server',
          detail: `${target.url} answers (${health.receivedAt - health.sentAt} ms)`,
        }
      : {
          level: 'fail',
          check: 'server',
          detail: `${target.url}/healthz answered ${health.status}`,
          fix: 'is this an AM server? check the URL',
        },
    assessClock(health.date, health.sentAt, health.receivedAt),
  ];
  const graphs = await get(target, '/v1/graphs?limit=1');
  if (graphs.status === 401) {
    findings.push({
      level: 'fail',
      check: 'token',
      detail: `the server refused the token from ${target.source} (${problemCode(graphs.body)})`,
      fix: 'use a current token: am agents rotate ID --out FILE, or the admin token of AM_ADMIN_TOKEN',
    });
    return findings;
  }
  const agents = await get(target, '/v1/agents');
  const role = agents.status === 200 ? 'admin' : agents.status === 403 ? 'worker' : 'unknown';
  findings.push({ level: 'ok', check: 'token', detail: `accepted (${role} role) from ${target.source}` });
  const ready = await get(target, '/readyz');
  const body = (typeof ready.body === 'object' && ready.body !== null ? ready.body : {}) as Record<
    string,
    unknown
  >;
  findings.push(
    ready.status === 200
      ? {
          level: 'ok',
          check: 'readiness',
          detail: `ready; read model at seq ${String(body.appliedSeq)} of ${String(body.streamSeq)} (lag ${String(body.lag)} events, ${String(body.lagMs)} ms)`,
        }
      : {
          level: 'fail',
          check: 'readiness',
          detail: `not ready: ${String(body.reason ?? ready.status)}${body.detail ? ` — ${String(body.detail)}` : ''}`,
          fix: 'see README "Faults, readiness and shutdown": catching_up passes by itself; nats_unreachable needs NATS',
        },
  );
  return findings;
}

function problemCode(body: unknown): string {
  if (typeof body === 'object' && body !== null && 'code' in body) return String(body.code);
  return 'no code';
}

async function checkNats(config: Config): Promise<Finding[]> {
  if (config.NATS_URL === undefined) {
    return [
      {
        level: 'skip',
        check: 'stream',
        detail:
          'NATS_URL is not set here: set it (and NATS_USER/NATS_PASSWORD of the AM service user) to check the stream',
      },
    ];
  }
  let nc: Awaited<ReturnType<typeof connectNats>>;
  try {
    nc = await connectNats({
      servers: natsServers(config),
      name: 'am-doctor',
      reconnect: false,
      timeoutMs: TIMEOUT_MS,
      ...(config.NATS_USER ? { user: config.NATS_USER } : {}),
      ...(config.NATS_PASSWORD ? { pass: config.NATS_PASSWORD } : {}),
      ...(config.NATS_TOKEN ? { token: config.NATS_TOKEN } : {}),
    });
  } catch (error) {
    return [
      {
        level: 'fail',
        check: 'nats',
        detail: `cannot connect to ${config.NATS_URL}: ${(error as Error).message}`,
        fix: 'check NATS_URL, NATS_USER and NATS_PASSWORD (the AM service user)',
      },
    ];
  }
  try {
    const info = nc.info;
    const peers = info?.connect_urls?.length ?? 0;
    const facts: NatsFacts = {
      serverVersion: info?.version ?? 'unknown',
      // A clustered server names its cluster; connect_urls lists the cluster's client addresses.
      clusterSize: info?.cluster ? Math.max(peers, 2) : 1,
      stream: null,
      configuredReplicas: config.AM_REPLICAS,
    };
    const jsm = await jetstreamManager(nc, { timeout: TIMEOUT_MS });
    try {
      const stream = await jsm.streams.info(config.AM_STREAM);
      const replicas = stream.cluster?.replicas ?? [];
      facts.stream = {
        name: stream.config.name,
        replicas: stream.config.num_replicas,
        currentReplicas: 1 + replicas.filter((peer) => peer.current).length,
        leader: stream.cluster?.leader ?? null,
      };
    } catch (error) {
      if (!/not found/i.test((error as Error).message)) throw error;
    }
    return assessNats(facts);
  } catch (error) {
    return [
      {
        level: 'fail',
        check: 'stream',
        detail: `cannot read stream ${config.AM_STREAM}: ${(error as Error).message}`,
        fix: 'is JetStream enabled (nats-server -js), and may this user reach the JetStream API?',
      },
    ];
  } finally {
    await closeNats(nc, 1_000);
  }
}

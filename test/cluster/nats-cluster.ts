import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Proc, ROOT, spawnProc } from '../e2e/support/processes.ts';
import { freePort } from '../kit/index.ts';

const NODES = [1, 2, 3] as const;
const NATS_BIN = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';

export interface ClusterNode {
  /** The shipped server name (am-nats-<n>), which stream and meta leaders are reported by. */
  name: string;
  clientUrl: string;
  monitorUrl: string;
  pidFile: string;
  proc: Proc;
}

export interface NatsCluster {
  nodes: ClusterNode[];
  /** All three client URLs, comma-separated, as NATS_URL takes them. */
  urls: string;
  /** The users file all three configs include (the shipped am-users.conf, copied). */
  usersFile: string;
  servicePassword: string;
  kill(name: string): Promise<void>;
  /** Starts a killed node again on its config and store. */
  restart(name: string): Promise<void>;
  /** SIGHUP every running node (after the users file changed). */
  reload(): void;
}

/**
 * deploy/nats/cluster-node-<n>.conf with only what loopback needs rewritten: the listen addresses, the
 * monitoring port, the routes, the pid file and the store dir. Each rewrite must match exactly once, so
 * a change in the shipped files' shape fails here instead of silently testing something else.
 */
export function loopbackConfig(
  shipped: string,
  ports: Array<{ client: number; route: number; monitor: number }>,
  n: number,
  dir: string,
): string {
  const own = ports[n - 1];
  if (own === undefined) throw new Error(`no ports for node ${n}`);
  const rewrites: Array<[RegExp, string]> = [
    [/^listen: "0\.0\.0\.0:4222"$/m, `listen: "127.0.0.1:${own.client}"`],
    [/^http_port: 8222$/m, `http: "127.0.0.1:${own.monitor}"`],
    [/^pid_file: "\/data\/nats-server\.pid"$/m, `pid_file: "${join(dir, `node-${n}.pid`)}"`],
    [/^ {2}store_dir: "\/data\/jetstream"$/m, `  store_dir: "${join(dir, `store-${n}`)}"`],
    [/^ {2}listen: "0\.0\.0\.0:6222"$/m, `  listen: "127.0.0.1:${own.route}"`],
  ];
  for (const m of NODES) {
    rewrites.push([
      new RegExp(`"nats-route://am-nats-${m}:6222"`),
      `"nats-route://127.0.0.1:${ports[m - 1]?.route}"`,
    ]);
  }
  let text = shipped;
  for (const [pattern, replacement] of rewrites) {
    const global = new RegExp(pattern.source, `${pattern.flags}g`);
    const hits = text.match(global)?.length ?? 0;
    if (hits !== 1) throw new Error(`cluster config: ${pattern} matched ${hits} times, expected once`);
    text = text.replace(pattern, replacement);
  }
  return text;
}

/** The three shipped cluster nodes on loopback, in one dir (so the relative users include still works). */
export async function startNatsCluster(dir: string): Promise<NatsCluster> {
  const servicePassword = `cluster-${Math.random().toString(36).slice(2)}-pw`;
  const ports: Array<{ client: number; route: number; monitor: number }> = [];
  for (const _ of NODES)
    ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
  const usersFile = join(dir, 'am-users.conf');
  copyFileSync(join(ROOT, 'deploy/nats/am-users.conf'), usersFile);
  const configs = new Map<string, string>();
  const nodes: ClusterNode[] = NODES.map((n) => {
    const conf = join(dir, `cluster-node-${n}.conf`);
    const shipped = readFileSync(join(ROOT, `deploy/nats/cluster-node-${n}.conf`), 'utf8');
    writeFileSync(conf, loopbackConfig(shipped, ports, n, dir));
    const name = `am-nats-${n}`;
    configs.set(name, conf);
    return {
      name,
      clientUrl: `nats://127.0.0.1:${ports[n - 1]?.client}`,
      monitorUrl: `http://127.0.0.1:${ports[n - 1]?.monitor}`,
      pidFile: join(dir, `node-${n}.pid`),
      proc: null as unknown as Proc, // set just below, before anyone reads it
    };
  });
  const launch = async (node: ClusterNode) => {
    node.proc = spawnProc(NATS_BIN, ['-c', configs.get(node.name) ?? ''], {
      AM_NATS_SERVICE_PASSWORD: servicePassword,
    });
    await node.proc.waitFor(/Server is ready/, 20_000);
  };
  await Promise.all(nodes.map(launch));
  const byName = (name: string) => {
    const node = nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no cluster node ${name}`);
    return node;
  };
  return {
    nodes,
    urls: nodes.map((n) => n.clientUrl).join(','),
    usersFile,
    servicePassword,
    kill: async (name) => {
      await byName(name).proc.stop('SIGKILL');
    },
    restart: (name) => launch(byName(name)),
    reload: () => {
      for (const node of nodes) {
        if (node.proc.child.exitCode === null && node.proc.child.signalCode === null)
          node.proc.child.kill('SIGHUP');
      }
    },
  };
}

/** The JetStream meta leader's server name, from a node's /jsz monitoring endpoint. */
export async function metaLeader(cluster: NatsCluster, except?: string): Promise<string | null> {
  for (const node of cluster.nodes) {
    if (node.name === except) continue;
    try {
      const response = await fetch(`${node.monitorUrl}/jsz`, { signal: AbortSignal.timeout(1_000) });
      const body = (await response.json()) as { meta_cluster?: { leader?: string } };
      const leader = body.meta_cluster?.leader;
      if (leader) return leader;
    } catch {
      // That node is down or not answering: ask the next.
    }
  }
  return null;
}

/**
 * A stream's leader as the surviving nodes' /jsz reports it: independent of any client connection,
 * which may itself be reconnecting away from a killed node.
 */
export async function streamLeaderFromMonitor(
  cluster: NatsCluster,
  stream: string,
  except?: string,
): Promise<string | null> {
  for (const node of cluster.nodes) {
    if (node.name === except) continue;
    try {
      const response = await fetch(`${node.monitorUrl}/jsz?accounts=true&streams=true`, {
        signal: AbortSignal.timeout(1_000),
      });
      const body = (await response.json()) as {
        account_details?: Array<{ stream_detail?: Array<{ name: string; cluster?: { leader?: string } }> }>;
      };
      for (const account of body.account_details ?? []) {
        const leader = account.stream_detail?.find((s) => s.name === stream)?.cluster?.leader;
        if (leader) return leader;
      }
    } catch {
      // That node is down or not answering: ask the next.
    }
  }
  return null;
}

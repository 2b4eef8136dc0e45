import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { AM_VARIABLES, parseAm } from './am-cli.ts';

const DEPLOY = join(import.meta.dirname, '../../../deploy');
const read = (file: string) => readFileSync(join(DEPLOY, file), 'utf8');

interface Service {
  image?: string;
  hostname?: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: string[] | Record<string, unknown>;
}

const compose = parse(read('compose.yaml'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = Object.entries(compose.services);
const amServices = services.filter(([, s]) => s.image === 'agentmanager:local');
const natsServices = services.filter(([, s]) => s.image?.startsWith('nats:'));

/** The `am` argv of a service: its command, or each `node /app/bin/am.mjs …` inside an `sh -c` script. */
function amInvocations(service: Service): string[][] {
  if (service.entrypoint?.[0] !== 'sh') return [service.command ?? []];
  const script = (service.command ?? []).join(' ').replaceAll('$$w', 'worker-1');
  return [...script.matchAll(/node \/app\/bin\/am\.mjs ([^;]+)/g)].map((m) =>
    (m[1] ?? '').trim().split(/\s+/),
  );
}

describe('deploy/compose.yaml', () => {
  it('has three NATS nodes, two AM servers and two workers', () => {
    expect(natsServices.map(([name]) => name)).toEqual(['am-nats-1', 'am-nats-2', 'am-nats-3']);
    const commands = amServices.flatMap(([, s]) => amInvocations(s).map((argv) => argv[0]));
    expect(commands.filter((c) => c === 'server')).toHaveLength(2);
    expect(commands.filter((c) => c === 'worker')).toHaveLength(2);
  });

  it('runs only real am subcommands with valid flags', () => {
    const parsed = amServices.flatMap(([, s]) => amInvocations(s).map((argv) => parseAm(argv)));
    expect(parsed.map((p) => p.command).sort()).toEqual([
      'agents add',
      'server',
      'server',
      'worker',
      'worker',
    ]);
    for (const p of parsed.filter((q) => q.command === 'worker')) {
      expect(['http', 'nats']).toContain(p.options.transport);
    }
  });

  it('sets only variables AM reads, and every secret it uses is in .env.example', () => {
    for (const [name, service] of amServices) {
      const unknown = Object.keys(service.environment ?? {}).filter((key) => !AM_VARIABLES.has(key));
      expect({ name, unknown }).toEqual({ name, unknown: [] });
    }
    for (const [, service] of amServices.filter(([, s]) => s.command?.[0] === 'server')) {
      expect(service.environment?.AM_REPLICAS).toBe('3');
    }
    const example = new Set(
      read('.env.example')
        .split('\n')
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => line.split('=')[0]),
    );
    const used = [...read('compose.yaml').matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]);
    expect(used.filter((name) => !example.has(name))).toEqual([]);
  });

  it('mounts each shipped node config with the users file it includes, on the hostname it names', () => {
    for (const [name, service] of natsServices) {
      const n = name.slice(-1);
      const configPath = service.command?.[1] ?? '';
      const mount = service.volumes?.find((v) => v.split(':')[1] === configPath);
      expect(mount?.split(':')[0]).toBe(`./nats/cluster-node-${n}.conf`);
      const config = read(`nats/cluster-node-${n}.conf`);
      expect(config).toContain(`server_name: "am-nats-${n}"`);
      expect(service.hostname).toBe(`am-nats-${n}`);
      // The include is relative to the config's directory: the users volume is mounted there.
      expect(config).toContain('include "am-users.conf"');
      const configDir = configPath.slice(0, configPath.lastIndexOf('/'));
      expect(service.volumes).toContain(`nats-users:${configDir}`);
      for (const route of config.matchAll(/nats-route:\/\/([^:]+):(\d+)/g)) {
        expect(compose.services[route[1] ?? '']).toBeDefined();
        expect(config).toContain(`listen: "0.0.0.0:${route[2]}"`);
      }
      expect(service.volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
      expect(config).toContain('store_dir: "/data/jetstream"');
    }
    // The server that keeps the users file current writes the same volume.
    const writer = compose.services['am-server-1'];
    const usersFile = writer?.environment?.AM_NATS_USERS_FILE ?? '';
    expect(writer?.volumes).toContain(`nats-users:${usersFile.slice(0, usersFile.lastIndexOf('/'))}`);
  });

  it('points AM at the nodes\u2019 client port, and publishes the HTTP port the servers listen on', () => {
    const clientPort = /^listen: "0\.0\.0\.0:(\d+)"$/m.exec(read('nats/cluster-node-1.conf'))?.[1];
    for (const [, service] of amServices.filter(([, s]) => s.environment?.NATS_URL !== undefined)) {
      expect(service.environment?.NATS_URL).toBe(
        natsServices.map(([name]) => `nats://${name}:${clientPort}`).join(','),
      );
    }
    const exposed = /^EXPOSE (\d+)$/m.exec(read('Dockerfile'))?.[1];
    for (const [, service] of amServices.filter(([, s]) => s.command?.[0] === 'server')) {
      const port = String(parseAm(service.command ?? []).options.port);
      expect(port).toBe(exposed);
      expect(service.ports?.map((p) => p.split(':')[1])).toEqual([port]);
    }
    const agents = amServices.find(([name]) => name === 'agents-init')?.[1];
    expect(agents?.environment?.AM_URL).toBe(`http://am-server-1:${exposed}`);
  });

  it('names only volumes it declares', () => {
    const named = services.flatMap(([, s]) => (s.volumes ?? []).map((v) => v.split(':')[0] ?? ''));
    for (const source of named) {
      if (source.startsWith('.')) expect(existsSync(join(DEPLOY, source))).toBe(true);
      else expect(Object.keys(compose.volumes)).toContain(source);
    }
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  it('runs `am` as a non-root user, with a real default subcommand and a health check on /healthz', () => {
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "--max-semi-space-size=4", "\/app\/bin\/am\.mjs"\]$/m);
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    expect(parseAm(cmd).command).toBe('server');
    const users = [...dockerfile.matchAll(/^USER (\S+)$/gm)].map((m) => m[1]);
    expect(users.at(-1)).toBe('node');
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/healthz/m);
    expect(/AM_HTTP_PORT=(\d+)/.exec(dockerfile)?.[1]).toBe(/^EXPOSE (\d+)$/m.exec(dockerfile)?.[1]);
    expect(dockerfile).toMatch(/AM_HTTP_HOST=0\.0\.0\.0/);
  });

  it('sets only variables AM reads, besides the runtime tuning of Node and glibc', () => {
    const env = /^ENV ((?:.*\\\n)*.*)$/m.exec(dockerfile)?.[1] ?? '';
    const names = [...env.matchAll(/([A-Z_]+)=/g)].map((m) => m[1] ?? '');
    const runtime = new Set(['NODE_ENV', 'MALLOC_ARENA_MAX']);
    expect(names.filter((n) => !runtime.has(n) && !AM_VARIABLES.has(n))).toEqual([]);
    expect(names).toContain('MALLOC_ARENA_MAX');
  });
});

interface Container {
  args: string[];
  env?: Array<{ name: string }>;
  ports?: Array<{ name: string; containerPort: number }>;
  livenessProbe?: { httpGet: { path: string; port: string; httpHeaders?: unknown } };
  readinessProbe?: { httpGet: { path: string; port: string; httpHeaders?: unknown } };
}

describe('deploy/k8s', () => {
  const containers = (file: string): Container[] =>
    parseAllDocuments(read(file))
      .map(
        (doc) => doc.toJS() as { kind: string; spec: { template?: { spec: { containers: Container[] } } } },
      )
      .filter((doc) => doc.kind === 'Deployment')
      .flatMap((doc) => doc.spec.template?.spec.containers ?? []);

  it('runs real am subcommands with valid flags and only variables AM reads', () => {
    const all = [...containers('k8s/am-server.yaml'), ...containers('k8s/am-worker.yaml')];
    expect(all.map((c) => parseAm(c.args).command)).toEqual(['server', 'worker']);
    for (const container of all) {
      const unknown = (container.env ?? []).map((e) => e.name).filter((name) => !AM_VARIABLES.has(name));
      expect(unknown).toEqual([]);
    }
  });

  it('probes the server on the port it listens on: /healthz for liveness, a bare /readyz for readiness', () => {
    const [server] = containers('k8s/am-server.yaml');
    const port = String(parseAm(server?.args ?? []).options.port);
    expect(server?.ports).toEqual([{ name: 'http', containerPort: Number(port) }]);
    expect(server?.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(server?.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(server?.env?.find((e) => e.name === 'AM_REPLICAS')).toEqual({ name: 'AM_REPLICAS', value: '3' });
  });

  it('gives the NATS chart three JetStream replicas', () => {
    const values = parse(read('k8s/nats-values.yaml')) as {
      config: { cluster: { enabled: boolean; replicas: number }; jetstream: { enabled: boolean } };
    };
    expect(values.config.cluster).toEqual({ enabled: true, replicas: 3 });
    expect(values.config.jetstream.enabled).toBe(true);
  });
});

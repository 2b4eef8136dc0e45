import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, ROOT, spawnProc } from '../../e2e/support/processes.ts';
import { freePort, makeTempDir, removeTempDir, startTestNats, type TestNats } from '../../kit/index.ts';

interface Stage {
  name: string;
  lines: string[];
}

/** The Dockerfile's stages, each with its instructions (continuation lines joined). */
function stagesOf(text: string): Stage[] {
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of instructions) {
    const from = /^FROM \S+ AS (\S+)$/.exec(line);
    if (from) stages.push({ name: from[1] ?? '', lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

const argsOf = (line: string, instruction: string) => line.slice(instruction.length + 1).trim();

/**
 * Replays deploy/Dockerfile on this machine (no Docker engine here): the build stage's COPY and RUN steps
 * in a temp dir standing for /app (apt-get, the system compilers, is skipped: this machine has them),
 * then the runtime stage's COPY --from=build into another, and runs the ENTRYPOINT there: `am --help`,
 * and `am server` (the CMD) with the image's ENV, whose HEALTHCHECK command must pass.
 */
describe('deploy/Dockerfile, replayed without Docker', () => {
  const stages = stagesOf(readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8'));
  const build = stages.find((s) => s.name === 'build');
  const runtime = stages.find((s) => s.name === 'runtime');
  let dir: string;
  let buildDir: string;
  let runtimeDir: string;
  let nats: TestNats;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    if (!build || !runtime) throw new Error('deploy/Dockerfile: expected stages "build" and "runtime"');
    dir = makeTempDir('am-dockerfile');
    buildDir = join(dir, 'build-app');
    runtimeDir = join(dir, 'runtime-app');
    mkdirSync(buildDir);
    mkdirSync(runtimeDir);
    // The build stage: no NODE_ENV in the node image; npm may use its cache (the image's would be empty).
    const { NODE_ENV: _nodeEnv, ...env } = process.env;
    for (const line of build.lines) {
      if (line.startsWith('COPY ')) {
        const parts = argsOf(line, 'COPY').split(/\s+/);
        const target = parts.pop() ?? '';
        for (const source of parts) {
          const to =
            target.endsWith('/') || parts.length > 1 ? join(buildDir, source) : join(buildDir, target);
          cpSync(join(ROOT, source), to, { recursive: true });
        }
      } else if (line.startsWith('RUN ') && !line.includes('apt-get')) {
        const startedAt = Date.now();
        execFileSync('sh', ['-c', argsOf(line, 'RUN')], {
          cwd: buildDir,
          env: { ...env, npm_config_prefer_offline: 'true' },
          stdio: 'pipe',
        });
        timings[argsOf(line, 'RUN').split(' ').slice(0, 2).join(' ')] = (Date.now() - startedAt) / 1000;
      }
    }
    for (const line of runtime.lines.filter((l) => l.startsWith('COPY --from=build '))) {
      const [source, target] = argsOf(line, 'COPY --from=build').split(/\s+/);
      cpSync(join(buildDir, (source ?? '').replace(/^\/app\//, '')), join(runtimeDir, target ?? ''), {
        recursive: true,
      });
    }
    nats = await startTestNats();
  }, 400_000);

  afterAll(async () => {
    await killAll();
    await nats?.cleanup();
    // Two copies of node_modules: about half a gigabyte.
    if (dir) removeTempDir(dir);
  });

  /** ENTRYPOINT with /app standing for the runtime dir. */
  const entrypoint = () =>
    (
      JSON.parse(
        argsOf(runtime?.lines.find((l) => l.startsWith('ENTRYPOINT ')) ?? '', 'ENTRYPOINT'),
      ) as string[]
    ).map((part) => part.replace(/^\/app\//, `${runtimeDir}/`));

  it('builds dist/ and keeps no dev dependency in the runtime layout', () => {
    console.log(JSON.stringify({ replaySeconds: timings }));
    expect(readFileSync(join(runtimeDir, 'dist/cli/main.js'), 'utf8').length).toBeGreaterThan(0);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    for (const dev of ['vitest', 'typescript', '@biomejs/biome']) {
      expect(pkg.devDependencies[dev]).toBeDefined();
      expect(() => readFileSync(join(runtimeDir, 'node_modules', dev, 'package.json'))).toThrow();
    }
  });

  it('runs `am --help` from the runtime layout', () => {
    const [command, ...args] = entrypoint();
    const help = execFileSync(command ?? 'node', [...args, '--help'], { cwd: runtimeDir, encoding: 'utf8' });
    expect(help).toMatch(/server \[options\]/);
    expect(help).toMatch(/worker \[options\]/);
  });

  it('starts the CMD (`am server`) with the image ENV, and its HEALTHCHECK passes', async () => {
    const [command, ...args] = entrypoint();
    const cmd = JSON.parse(argsOf(runtime?.lines.find((l) => l.startsWith('CMD ')) ?? '', 'CMD')) as string[];
    const imageEnv = Object.fromEntries(
      [...argsOf(runtime?.lines.find((l) => l.startsWith('ENV ')) ?? '', 'ENV').matchAll(/(\w+)=(\S+)/g)].map(
        (m) => [m[1] ?? '', m[2] ?? ''],
      ),
    );
    expect(imageEnv).toMatchObject({ AM_HTTP_HOST: '0.0.0.0', NODE_ENV: 'production' });
    // Only what cannot be the same here: the data dir and a free port.
    const port = String(await freePort());
    const server = spawnProc(command ?? 'node', [...args, ...cmd], {
      ...imageEnv,
      AM_HOME: join(dir, 'data'),
      AM_HTTP_PORT: port,
      NATS_URL: nats.url,
      AM_ADMIN_TOKEN: 'dockerfile-replay-admin-token-0123456789',
      AM_LLM_PROVIDER: 'offline',
    });
    await server.waitFor(/AM server listening on/, 60_000);
    const healthcheck = runtime?.lines.find((l) => l.startsWith('HEALTHCHECK ')) ?? '';
    const check = JSON.parse(/CMD (\[.*\])$/.exec(healthcheck)?.[1] ?? '[]') as string[];
    const run = (p: string) =>
      execFileSync(check[0] ?? 'node', check.slice(1), {
        env: { ...process.env, AM_HTTP_PORT: p },
        stdio: 'pipe',
      });
    expect(() => run(port)).not.toThrow();
    await server.stop('SIGTERM');
    // And it fails when nothing answers.
    expect(() => run(port)).toThrow();
  }, 90_000);
});

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskGraph } from '../../src/protocol/index.ts';
import { freePort, makeTempDir, removeTempDir } from '../kit/index.ts';
import {
  am,
  isTerminal,
  killAll,
  type Proc,
  ROOT,
  type ServerProc,
  spawnProc,
  submitGraph,
  trail,
  waitForGraph,
} from './support/processes.ts';

const exec = promisify(execFile);

/** The example this test runs, as README shows it. */
const EXAMPLE = join(ROOT, 'examples/typescript-worker');
const WORKER_ID = 'ts-worker';

/**
 * npm's own variables from `npm test` (npm_config_local_prefix, npm_lifecycle_*) would point the npm commands
 * run here at this repository; they run as a user would, in their folder.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith('npm_')) env[key] = value;
  }
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

async function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<string> {
  try {
    const { stdout } = await exec(command, args, {
      cwd,
      env: { ...npmEnv(), ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/**
 * A lockfile for the empty folder: the tarball, and exactly the versions this repository's lockfile holds
 * for its runtime dependencies (the tests run offline; `npm ci` here fetched those tarballs into the npm
 * cache, but not the registry's version lists a fresh resolution would need).
 */
function lockFor(tarball: string): object {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; link?: boolean }>;
  };
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'am-package-user', dependencies: { agentmanager: spec } },
    'node_modules/agentmanager': {
      version: pkg.version,
      resolved: spec,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path !== '' && !entry.dev && !entry.link) packages[path] = entry;
  }
  return { name: 'am-package-user', lockfileVersion: 3, requires: true, packages };
}

/**
 * The packages an import of `specifier` (from the `app` folder) loads: every ES module resolution, seen by a
 * module hook, and every CommonJS module in require.cache, reduced to package names.
 */
async function packagesLoadedBy(app: string, specifier: string): Promise<Set<string>> {
  const log = join(app, `loaded-${specifier.replace(/\W/g, '_')}.txt`);
  writeFileSync(log, '');
  // LOADED_LOG reaches the hook, which runs in a thread of its own, through the environment.
  await run(process.execPath, ['--import', './register-hooks.mjs', 'import-one.mjs', specifier, log], app, {
    LOADED_LOG: log,
  });
  const names = readFileSync(log, 'utf8')
    .split('\n')
    .map((line) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
  return new Set(names);
}

/**
 * The package as its users get it: `npm pack`, installed into an empty folder with no network, its entry
 * imported and type-checked, and the TypeScript example (examples/typescript-worker) doing all the work of
 * an `am up --workers 0`. Runs the dist/ that `npm run build` made (npm test builds before this tier).
 */
describe('the agentmanager package (npm pack, installed offline in an empty folder)', () => {
  let dir: string;
  let app: string;
  let packed: string[];

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/index.js'))) {
      throw new Error('dist/ is missing: run "npm run build" first (npm test builds before the e2e tier)');
    }
    dir = makeTempDir('am-e2e-package');
    app = join(dir, 'app');
    // --ignore-scripts: `prepare` would build dist/ again; it was built just before this tier.
    const [pack] = JSON.parse(
      await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT),
    ) as [{ filename: string; files: { path: string }[] }];
    packed = pack.files.map((file) => file.path);
    mkdirSync(app);
    const tarball = `../${pack.filename}`;
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({
        name: 'am-package-user',
        private: true,
        type: 'module',
        dependencies: { agentmanager: `file:${tarball}` },
      }),
    );
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lockFor(tarball)));
    // No install scripts: better-sqlite3's native build belongs to the server, which this folder does not run.
    await run('npm', ['ci', '--offline', '--ignore-scripts'], app);
    for (const file of ['worker.ts', 'submit.ts']) {
      writeFileSync(join(app, file), readFileSync(join(EXAMPLE, file)));
    }
  }, 120_000);

  afterAll(async () => {
    await killAll();
    if (dir) removeTempDir(dir);
  });

  it('holds the compiled code with its declarations, the bin, README, the docs and the example; no sources or tests', () => {
    expect(packed).toEqual(
      expect.arrayContaining([
        'dist/index.js',
        'dist/index.d.ts',
        'dist/cli/main.js',
        'dist/dashboard/index.html',
        'bin/am.mjs',
        'README.md',
        'docs/architecture.md',
        'examples/typescript-worker/worker.ts',
        'package.json',
      ]),
    );
    expect(packed.filter((path) => /^(src|test|bench|\.ci)\//.test(path))).toEqual([]);
  });

  it('runs the very worker README shows ("Write a worker in TypeScript")', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${readFileSync(join(EXAMPLE, 'worker.ts'), 'utf8')}\`\`\``);
  });

  it('installs a working `am` command', async () => {
    const help = await run(join(app, 'node_modules/.bin/am'), ['--help'], app);
    expect(help).toMatch(/^Usage: am \[options\] \[command\]/);
  });

  it('loads neither Fastify nor SQLite nor the LLM client when its entry is imported', async () => {
    writeFileSync(
      join(app, 'load-hooks.mjs'),
      [
        "import { appendFileSync } from 'node:fs';",
        'export async function resolve(specifier, context, next) {',
        '  const result = await next(specifier, context);',
        '  appendFileSync(process.env.LOADED_LOG, result.url + "\\n");',
        '  return result;',
        '}',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'register-hooks.mjs'),
      "import { register } from 'node:module';\nregister('./load-hooks.mjs', import.meta.url);\n",
    );
    // argv: the specifier to import, the log file.
    writeFileSync(
      join(app, 'import-one.mjs'),
      [
        "import { appendFileSync } from 'node:fs';",
        "import { createRequire } from 'node:module';",
        'const [specifier, log] = process.argv.slice(2);',
        'await import(specifier);',
        "appendFileSync(log, Object.keys(createRequire(import.meta.url).cache).join('\\n') + '\\n');",
      ].join('\n'),
    );
    const entry = await packagesLoadedBy(app, 'agentmanager');
    expect(entry.has('agentmanager')).toBe(true);
    expect(entry.has('zod')).toBe(true);
    expect(entry.has('@nats-io/transport-node')).toBe(true);
    for (const heavy of ['fastify', 'better-sqlite3', 'openai', 'pino', 'prom-client', '@fastify/swagger']) {
      expect(entry.has(heavy), `importing agentmanager loaded ${heavy}`).toBe(false);
    }
    // The check sees what it must catch: importing Fastify itself shows it (and the CommonJS it requires).
    const control = await packagesLoadedBy(app, 'fastify');
    expect(control.has('fastify')).toBe(true);
    expect(control.has('avvio')).toBe(true);
  });

  it('type-checks the example against the published declarations (strict, no skipLibCheck)', async () => {
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          typeRoots: [join(ROOT, 'node_modules/@types')],
          types: ['node'],
        },
        files: ['worker.ts', 'submit.ts'],
      }),
    );
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
  });

  describe('the example worker against `am up --workers 0`', () => {
    let home: string;
    let up: Proc;
    let server: ServerProc;
    let worker: Proc;

    beforeAll(async () => {
      home = join(dir, 'home');
      const port = await freePort();
      const env = {
        AM_HOME: home,
        AM_HTTP_PORT: String(port),
        NATS_URL: undefined,
        AM_ADMIN_TOKEN: undefined,
        AM_URL: undefined,
        AM_TOKEN: undefined,
        AM_LLM_PROVIDER: 'offline',
        AM_RECONCILE_INTERVAL_MS: '200',
      };
      up = am(['up', '--workers', '0'], env);
      const [, url] = await up.waitFor(/AgentManager is up at (\S+)/, 90_000);
      const admin = JSON.parse(readFileSync(join(home, 'admin.json'), 'utf8')) as { auth_token: string };
      server = { url: url ?? '', adminToken: admin.auth_token, proc: up };
      const workerFile = join(dir, 'worker.json');
      const add = am(['agents', 'add', WORKER_ID, '--role', 'worker', '--out', workerFile], env);
      expect(await add.exited).toBe(0);
      // This repository's tsx runs the TypeScript; `agentmanager` resolves from the file's folder: the install.
      worker = spawnProc(process.execPath, ['--import', 'tsx', join(app, 'worker.ts'), workerFile]);
      await worker.waitFor(/is taking tasks from/, 30_000);
    }, 120_000);

    const expectDoneByTheExample = async (graph: TaskGraph) => {
      expect(graph.graph.status).toBe('SUCCEEDED');
      expect(graph.tasks.map((task) => [task.id, task.result?.agentId])).toEqual(
        graph.tasks.map((task) => [task.id, WORKER_ID]),
      );
      const work = graph.tasks.filter((task) => task.kind === 'work');
      for (const task of work) {
        expect(task.result?.output).toContain(`${task.title}: ${task.instructions}`);
      }
      // The final answer is the example's synthesis: the work tasks' outputs joined.
      for (const task of work) expect(graph.graph.output).toContain(`${task.id}: ${task.result?.output}`);
      const events = await trail(server, graph.graph.id);
      const claims = events.filter((event) => event.type === 'TaskClaimed');
      expect(claims.length).toBe(graph.tasks.length);
      expect(new Set(claims.map((event) => (event.data as { agentId: string }).agentId))).toEqual(
        new Set([WORKER_ID]),
      );
      expect(events.at(-1)?.type).toBe('GraphSucceeded');
    };

    it('completes the graph of examples/typescript-worker/submit.ts (the HTTP client of the package)', async () => {
      const submit = spawnProc(process.execPath, [
        '--import',
        'tsx',
        join(app, 'submit.ts'),
        join(home, 'admin.json'),
      ]);
      expect({ code: await submit.exited, output: submit.output() }).toMatchObject({ code: 0 });
      const graphId = /^graph (\S+) SUCCEEDED$/m.exec(submit.output())?.[1];
      expect(graphId, submit.output()).toBeDefined();
      // The client printed the trail to the end.
      expect(submit.output()).toMatch(/ GraphSucceeded /);
      const graph = await waitForGraph(server, graphId ?? '', isTerminal);
      await expectDoneByTheExample(graph);
    });

    it('completes explicit graphs submitted over the API, several at once', async () => {
      const graphs = await Promise.all(
        ['alpha', 'beta', 'gamma'].map((name) =>
          submitGraph(server, {
            goal: `Explicit graph ${name}`,
            tasks: [
              { id: 'count', title: 'Count letters', instructions: `Count the letters of ${name}` },
              { id: 'upper', title: 'Uppercase word', instructions: `Write ${name} in capitals` },
              {
                id: 'report',
                title: 'Report both',
                instructions: 'Report the count and the capitals',
                dependsOn: ['count', 'upper'],
              },
            ],
          }),
        ),
      );
      for (const { graphId } of graphs) {
        await expectDoneByTheExample(await waitForGraph(server, graphId, isTerminal, 60_000));
      }
    });

    it('stops on SIGTERM with exit code 0', async () => {
      expect(await worker.stop('SIGTERM')).toBe(0);
      expect(await up.stop('SIGTERM')).toBe(0);
    });
  });
});

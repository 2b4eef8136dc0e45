/**
 * An AM server as a process of its own (`am server`, compiled, as users run it: bin/am.mjs → dist/,
 * rebuilt first so it is the code in src/), so that its RSS is only the server's: the benchmark process
 * that submits and counts lives elsewhere. It writes a heap snapshot
 * into `dir` on SIGUSR2 (node's --heapsnapshot-signal), for finding what holds the memory.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findFreePort } from '../../src/store/nats-server-process.ts';
import { ROOT } from './bench-kit.ts';

export interface ServerProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Writes a heap snapshot (the server pauses while it does) and resolves with its path. */
  heapSnapshot(): Promise<string>;
  stop(): Promise<void>;
}

export async function startServerProcess(options: {
  natsUrl: string;
  home: string;
  adminToken: string;
  env?: Record<string, string>;
}): Promise<ServerProcess> {
  try {
    execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`npm run build failed:\n${stdout?.toString() ?? ''}${stderr?.toString() ?? ''}`);
  }
  const port = await findFreePort();
  const child = spawn(
    process.execPath,
    [
      '--heapsnapshot-signal=SIGUSR2',
      `--diagnostic-dir=${options.home}`,
      // As deploy/Dockerfile and `npm start` run it (README "Memory").
      '--max-semi-space-size=4',
      join(ROOT, 'bin', 'am.mjs'),
      'server',
      '--no-manager',
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        NATS_URL: options.natsUrl,
        AM_HOME: options.home,
        AM_HTTP_PORT: String(port),
        AM_ADMIN_TOKEN: options.adminToken,
        AM_MANAGER: 'false',
        AM_LOG_LEVEL: 'warn',
        AM_RATE_LIMIT_PER_SEC: '1000000',
        // As deploy/Dockerfile and `npm start` set it.
        MALLOC_ARENA_MAX: '2',
        ...options.env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`am server exited ${code} before it was ready`);
  });
  exited.catch(() => {});
  await Promise.race([untilReady(url), exited]);
  const pid = child.pid as number;
  return {
    url,
    pid,
    child,
    async heapSnapshot() {
      const before = new Set(snapshots(options.home));
      child.kill('SIGUSR2');
      // The file appears when writing starts; it is complete when its size stops changing.
      for (;;) {
        await sleep(1_000);
        const written = snapshots(options.home).find((name) => !before.has(name));
        if (written === undefined) continue;
        const path = join(options.home, written);
        if (await sizeSettled(path)) return path;
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

async function untilReady(url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await sleep(200);
  }
  throw new Error(`am server at ${url} not ready within 60 s`);
}

function snapshots(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.heapsnapshot'));
}

async function sizeSettled(path: string): Promise<boolean> {
  const first = statSync(path).size;
  await sleep(1_000);
  return first > 0 && statSync(path).size === first;
}

/**
 * bench:contention's second AM server: `am server` (src/cli/main.ts) in its own process, on the stack's
 * NATS and stream, with its own AM_HOME (its own SQLite read model), the same admin token, no manager.
 * Resolves once GET /readyz answers 200.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findFreePort } from '../../src/store/nats-server-process.ts';
import { type BenchStack, ROOT } from './bench-kit.ts';

export interface SecondServer {
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

export async function startSecondServer(stack: BenchStack): Promise<SecondServer> {
  const home = join(stack.dir, 'server-2');
  mkdirSync(home, { recursive: true });
  const port = await findFreePort();
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'server', '--no-manager'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        NATS_URL: stack.natsUrl,
        AM_HOME: home,
        AM_HTTP_PORT: String(port),
        AM_ADMIN_TOKEN: stack.adminToken,
        AM_MANAGER: 'false',
        AM_LOG_LEVEL: 'warn',
        AM_RATE_LIMIT_PER_SEC: '1000000',
        AM_LLM_PROVIDER: 'offline',
        // The kit's names when it shares an external NATS (bench-kit.ts startBenchStack).
        ...(process.env.NATS_URL
          ? { AM_STREAM: `AM_BENCH_${stack.suffix}`, AM_SUBJECT_PREFIX: `bench${stack.suffix}.evt` }
          : {}),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the second server exited ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('the second server was not ready within 60 s');
    const status = await fetch(`${url}/readyz`)
      .then((r) => r.status)
      .catch(() => 0);
    if (status === 200) break;
    await sleep(200);
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

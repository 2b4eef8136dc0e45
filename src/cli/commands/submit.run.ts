import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../config.ts';
import { AppError } from '../../errors.ts';
import { describeJsonError, type TaskGraph } from '../../protocol/index.ts';
import { ApiClient } from '../api-client.ts';
import { renderProgress } from '../render.ts';
import { resolveClient } from '../resolve-client.ts';

export interface SubmitOptions {
  graph?: string;
  wait?: boolean;
  idempotencyKey?: string;
  config?: string;
}

/** What `am submit` does (its options are in submit.ts; this file is loaded only when it runs). */
export async function runSubmit(goal: string | undefined, opts: SubmitOptions): Promise<void> {
  let body: Record<string, unknown>;
  if (opts.graph !== undefined) {
    body = readGraphFile(opts.graph);
    if (goal !== undefined) body.goal = goal;
  } else if (goal !== undefined) {
    body = { goal };
  } else {
    throw new AppError('AM_ERR_VALIDATION', 'give a goal ("am submit \\"…\\"") or --graph FILE');
  }
  if (opts.idempotencyKey !== undefined) body.idempotencyKey = opts.idempotencyKey;
  const client = new ApiClient(resolveClient(loadConfig(), opts.config));
  const { graphId, seq } = await client.request<{ graphId: string; seq: number }>('POST', '/v1/tasks', body);
  process.stdout.write(`submitted graph ${graphId}\n`);
  if (!opts.wait) {
    process.stdout.write(
      `follow it with: npx am graph ${graphId}   or   npx am events ${graphId} --follow\n`,
    );
    return;
  }
  const tty = process.stdout.isTTY === true;
  let last = '';
  for (;;) {
    const graph = await client.request<TaskGraph>('GET', `/v1/graphs/${graphId}?minSeq=${seq}`);
    const line = renderProgress(graph);
    if (line !== last) process.stdout.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
    last = line;
    const status = graph.graph.status;
    if (status === 'SUCCEEDED' || status === 'FAILED' || status === 'CANCELLED') {
      if (tty) process.stdout.write('\n');
      if (status === 'SUCCEEDED') {
        process.stdout.write(`succeeded. final answer:\n${graph.graph.output ?? ''}\n`);
      } else {
        process.stdout.write(
          `${status.toLowerCase()}: ${graph.graph.failure?.reason ?? ''} ${graph.graph.failure?.message ?? ''}\n`,
        );
        process.exitCode = 2;
      }
      return;
    }
    await sleep(250);
  }
}

/** The `--graph` file as an object, or an error naming the file and what is wrong with it where. */
function readGraphFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? `no such file (looked for ${resolve(file)})`
        : (error as Error).message;
    throw new AppError('AM_ERR_VALIDATION', `--graph ${file}: ${reason}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new AppError(
      'AM_ERR_VALIDATION',
      `--graph ${file}: not valid JSON: ${describeJsonError(text, error)}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AppError(
      'AM_ERR_VALIDATION',
      `--graph ${file}: expected a JSON object like { "goal": "…", "tasks": [ … ] } (see README "The CLI")`,
    );
  }
  return parsed as Record<string, unknown>;
}

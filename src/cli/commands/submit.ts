import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { AppError } from '../../errors.ts';
import type { TaskGraph } from '../../protocol/index.ts';
import { ApiClient } from '../api-client.ts';
import { renderProgress } from '../render.ts';
import { resolveClient } from '../resolve-client.ts';

/** `am submit "<goal>" | --graph FILE [--wait]` */
export function registerSubmitCommand(program: Command): void {
  program
    .command('submit')
    .description('submit a goal (planned by the manager) or an explicit graph; --wait follows it to the end')
    .argument('[goal]', 'the goal')
    .option(
      '--graph <file>',
      'a JSON file { goal, tasks: [{ id, title, instructions, dependsOn? }], options? }',
    )
    .option('--wait', 'show live progress; exit 0 when the graph succeeds, 2 when it fails or is cancelled')
    .option('--idempotency-key <key>', 'a repeat with the same key returns the same graph')
    .option('--config <file>', 'a mcp_client_config.json naming the server and token')
    .action(
      async (
        goal: string | undefined,
        opts: { graph?: string; wait?: boolean; idempotencyKey?: string; config?: string },
      ) => {
        let body: Record<string, unknown>;
        if (opts.graph !== undefined) {
          try {
            body = JSON.parse(readFileSync(opts.graph, 'utf8')) as Record<string, unknown>;
          } catch (error) {
            throw new AppError('AM_ERR_VALIDATION', `${opts.graph}: ${(error as Error).message}`);
          }
          if (goal !== undefined) body.goal = goal;
        } else if (goal !== undefined) {
          body = { goal };
        } else {
          throw new AppError('AM_ERR_VALIDATION', 'give a goal ("am submit \\"…\\"") or --graph FILE');
        }
        if (opts.idempotencyKey !== undefined) body.idempotencyKey = opts.idempotencyKey;
        const client = new ApiClient(resolveClient(loadConfig(), opts.config));
        const { graphId, seq } = await client.request<{ graphId: string; seq: number }>(
          'POST',
          '/v1/tasks',
          body,
        );
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
      },
    );
}

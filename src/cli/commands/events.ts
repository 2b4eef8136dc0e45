import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import type { TrailEvent } from '../../protocol/index.ts';
import { ApiClient } from '../api-client.ts';
import { renderEventLine } from '../render.ts';
import { resolveClient } from '../resolve-client.ts';

const ENDS = new Set(['GraphSucceeded', 'GraphFailed', 'GraphCancelled', 'GraphPlanningFailed']);

/** `am events ID [--follow] [--json]`: the audit trail, read from the stream. */
export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description("print a graph's audit trail (its events, in order)")
    .argument('<id>', 'graph id')
    .option('--follow', 'keep printing new events until the graph ends (Ctrl-C to stop)')
    .option('--json', 'one JSON object per line')
    .option('--config <file>', 'a mcp_client_config.json naming the server and token')
    .action(async (id: string, opts: { follow?: boolean; json?: boolean; config?: string }) => {
      const client = new ApiClient(resolveClient(loadConfig(), opts.config));
      // The first read names no fromSeq: only then does the server answer 404 for a graph it does not know.
      let fromSeq: number | undefined;
      let ended = false;
      for (;;) {
        const { events } = await client.request<{ events: TrailEvent[] }>(
          'GET',
          `/v1/graphs/${encodeURIComponent(id)}/events?${fromSeq === undefined ? '' : `fromSeq=${fromSeq}&`}limit=1000`,
        );
        for (const event of events) {
          process.stdout.write(opts.json ? `${JSON.stringify(event)}\n` : `${renderEventLine(event)}\n`);
          fromSeq = event.seq + 1;
          if (ENDS.has(event.type)) ended = true;
        }
        if (events.length === 1000) continue;
        if (!opts.follow || ended) return;
        await sleep(300);
      }
    });
}

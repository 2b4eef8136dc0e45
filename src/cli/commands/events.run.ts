import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../config.ts';
import type { TrailEvent } from '../../protocol/index.ts';
import { ApiClient } from '../api-client.ts';
import { renderEventLine } from '../render.ts';
import { resolveClient } from '../resolve-client.ts';

const ENDS = new Set(['GraphSucceeded', 'GraphFailed', 'GraphCancelled', 'GraphPlanningFailed']);

export interface EventsOptions {
  follow?: boolean;
  json?: boolean;
  config?: string;
}

/** What `am events` does (its options are in events.ts; this file is loaded only when it runs). */
export async function runEvents(id: string, opts: EventsOptions): Promise<void> {
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
}

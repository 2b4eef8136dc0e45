import { loadConfig } from '../../config.ts';
import type { TaskGraph } from '../../protocol/index.ts';
import { ApiClient } from '../api-client.ts';
import { renderGraphTree } from '../render.ts';
import { resolveClient } from '../resolve-client.ts';

export interface GraphOptions {
  json?: boolean;
  config?: string;
}

/** What `am graph` does (its options are in graph.ts; this file is loaded only when it runs). */
export async function runGraph(id: string, opts: GraphOptions): Promise<void> {
  const client = new ApiClient(resolveClient(loadConfig(), opts.config));
  const graph = await client.request<TaskGraph>('GET', `/v1/graphs/${encodeURIComponent(id)}`);
  process.stdout.write(opts.json ? `${JSON.stringify(graph, null, 2)}\n` : `${renderGraphTree(graph)}\n`);
}

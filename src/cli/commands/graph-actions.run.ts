import { loadConfig } from '../../config.ts';
import { ApiClient } from '../api-client.ts';
import { resolveClient } from '../resolve-client.ts';

export interface GraphActionOptions {
  config?: string;
}

/** What `am cancel` and `am retry` do (their options are in graph-actions.ts; this file is loaded only when one runs). */
export async function runGraphAction(
  name: 'cancel' | 'retry',
  id: string,
  opts: GraphActionOptions,
): Promise<void> {
  const client = new ApiClient(resolveClient(loadConfig(), opts.config));
  const { seq } = await client.request<{ seq: number }>(
    'POST',
    `/v1/graphs/${encodeURIComponent(id)}/${name}`,
  );
  process.stdout.write(`${name === 'cancel' ? 'cancelled' : 'retried'} graph ${id} (seq ${seq})\n`);
}

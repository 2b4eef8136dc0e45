import type { Subjects } from '../events/index.ts';
import { type ProjectionSource, Projector } from './projector.ts';
import { ReadModel } from './read-model.ts';
import { ReadyIndex } from './ready-index.ts';

/** A replay commits larger batches than live projection: nobody waits on one event's latency. */
const REBUILD_MAX_BATCH = 1000;

export interface RebuildOptions {
  onProgress?: (appliedSeq: number, targetSeq: number) => void;
}

/**
 * `am projections rebuild` (and what bench:replay measures): replays the whole stream from sequence 1
 * into the read-model file at `path`, then closes it. Resolves with the events replayed and the time.
 */
export async function rebuildReadModel(
  source: ProjectionSource,
  subjects: Subjects,
  path: string,
  opts: RebuildOptions = {},
): Promise<{ events: number; ms: number }> {
  const readModel = ReadModel.open(path);
  // The projector reports a failed batch to onError and stops following: without this the replay would
  // wait for its target forever.
  let fail: (error: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  // An error after the replay finished (before stop) has no one left to tell: not an unhandled rejection.
  failed.catch(() => {});
  const projector = new Projector({
    readModel,
    source,
    subjects,
    readyIndex: new ReadyIndex(),
    maxBatch: REBUILD_MAX_BATCH,
    // A one-shot replay reports a stream it cannot read; a server would wait for it to come back.
    feed: { stopOnFeedError: true },
    onError: (error) => fail(error),
  });
  try {
    return await Promise.race([
      projector.rebuild(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      failed,
    ]);
  } finally {
    await projector.stop();
    readModel.close();
  }
}

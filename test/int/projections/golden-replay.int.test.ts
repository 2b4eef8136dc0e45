import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { rebuildReadModel } from '../../../src/projections/index.ts';
import { makeTempDir, publishRaw, removeTempDir, useTestStore } from '../../kit/index.ts';
import { dumpTables } from './dump-tables.ts';

const GOLDEN = join(import.meta.dirname, '../../fixtures/golden');

/**
 * A stream recorded from a real run (test/fixtures/golden/record.ts: planning, rework, synthesis, a
 * failed task and a retried graph, an expired lease, a release, a cancel, agents, a malformed message)
 * replays into exactly the tables recorded with it. What a stored stream means must not change when
 * the fold or the projections are restructured; only a deliberate change of meaning records it again.
 */
describe('the golden stream', () => {
  const t = useTestStore();

  it('replays into the recorded tables, row by row', async () => {
    const lines = readFileSync(join(GOLDEN, 'stream.jsonl'), 'utf8').trim().split('\n');
    const nc = t.nc;
    for (const line of lines) {
      const { seq, subject, data } = JSON.parse(line) as { seq: number; subject: string; data: string };
      expect(await publishRaw(nc, `${t.nats.subjectPrefix}.${subject}`, data)).toBe(seq);
    }
    const dir = makeTempDir('am-golden-replay');
    try {
      const path = join(dir, 'replayed.sqlite');
      const { events } = await rebuildReadModel(t.store, t.store.subjects, path);
      expect(events).toBe(lines.length);
      const db = new Database(path, { readonly: true });
      try {
        const expected = JSON.parse(readFileSync(join(GOLDEN, 'tables.json'), 'utf8')) as unknown;
        expect(dumpTables(db)).toEqual(expected);
      } finally {
        db.close();
      }
    } finally {
      removeTempDir(dir);
    }
  });
});

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../../src');

/** DESIGN.md "Which folder may use which", as this codebase keeps it. */
const ALLOWED: Record<string, readonly string[]> = {
  protocol: [],
  nats: [],
  events: ['protocol'],
  commands: ['events', 'protocol'],
  agents: ['protocol'],
  store: ['events', 'protocol', 'nats'],
  projections: ['events', 'protocol'],
  node: ['commands', 'store', 'projections', 'nats', 'protocol', 'events'],
  manager: ['node', 'commands', 'projections', 'agents', 'protocol', 'events'],
  api: ['node', 'commands', 'store', 'projections', 'protocol', 'events', 'nats'],
  worker: ['agents', 'protocol', 'nats'],
  cli: [
    'protocol',
    'events',
    'commands',
    'agents',
    'store',
    'projections',
    'node',
    'manager',
    'api',
    'worker',
    'nats',
  ],
};
/** Leaves at the top of src/: errors.ts and config.ts are for everyone. */
const LEAVES: Record<string, string> = {
  'errors.ts': 'leaf',
  'config.ts': 'leaf',
};
function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** The folder (or leaf group) a file of src/ belongs to. */
function groupOf(path: string): string {
  const [top] = relative(SRC, path).split(sep);
  if (top === undefined) return 'unknown';
  return LEAVES[top] ?? top;
}

interface Crossing {
  from: string;
  to: string;
  file: string;
  typeOnly: boolean;
}

function crossings(): Crossing[] {
  const found: Crossing[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/^(?:import|export)\s+(type\s+)?[^'"]*?from\s+'(\.[^']+)'/gm)) {
      const target = resolve(dirname(file), match[2] ?? '');
      const from = groupOf(file);
      const to = groupOf(target);
      if (from !== to) found.push({ from, to, file: relative(SRC, file), typeOnly: match[1] !== undefined });
    }
  }
  return found;
}

describe('import boundaries between the folders of src/', () => {
  const all = crossings();

  it('finds the imports it checks', () => {
    expect(all.length).toBeGreaterThan(50);
  });

  it('keeps every import within what DESIGN.md allows', () => {
    const violations = all
      .filter(({ from, to }) => from !== 'leaf' && to !== 'leaf')
      .filter(({ from, to }) => from in ALLOWED && !ALLOWED[from]?.includes(to))
      .map(({ from, to, file }) => `${file}: ${from} -> ${to}`);
    expect(violations).toEqual([]);
  });

  it('keeps the pure folders free of I/O packages', () => {
    const io = /from\s+'(@nats-io\/[^']+|better-sqlite3|fastify|openai|node:fs|node:net|node:child_process)'/;
    const offenders = sourceFiles(SRC)
      .filter((file) => ['protocol', 'events', 'commands'].includes(groupOf(file)))
      .filter((file) => io.test(readFileSync(file, 'utf8')))
      .map((file) => relative(SRC, file));
    expect(offenders).toEqual([]);
  });
});

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const SRC = join(ROOT, 'src');
const ARCHITECTURE = join(ROOT, 'docs/architecture.md');

/** Files at the top of src/ that every folder may use. */
const SHARED_LEAVES = new Set(['errors.ts', 'config.ts']);

/**
 * The folder table of docs/architecture.md ("Which folder may use which"), read from between its
 * markers: folder (or top-level file) → what it may import. The document is the rule; this test only
 * enforces it.
 */
function allowedImports(): Map<string, Set<string>> {
  const text = readFileSync(ARCHITECTURE, 'utf8');
  const begin = text.indexOf('<!-- folders:begin -->');
  const end = text.indexOf('<!-- folders:end -->');
  if (begin < 0 || end < begin)
    throw new Error('docs/architecture.md has no folder table between its markers');
  const allowed = new Map<string, Set<string>>();
  for (const line of text.slice(begin, end).split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const name = /^`([^`]+)`$/.exec(cells[1] ?? '')?.[1];
    if (name === undefined) continue;
    const may = [...(cells[3] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
    allowed.set(name, new Set(may));
  }
  return allowed;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** The folder (or top-level file) a file of src/ belongs to. */
function groupOf(path: string): string {
  return relative(SRC, path).split(sep)[0] ?? 'unknown';
}

interface Crossing {
  from: string;
  to: string;
  file: string;
}

function crossings(): Crossing[] {
  const found: Crossing[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/^(?:import|export)\s+(?:type\s+)?[^'"]*?from\s+'(\.[^']+)'/gm)) {
      const target = resolve(dirname(file), match[1] ?? '');
      const from = groupOf(file);
      const to = groupOf(target);
      if (from !== to) found.push({ from, to, file: relative(SRC, file) });
    }
  }
  return found;
}

/** Import cycles between files (type imports included), as the files of each cycle. */
function fileCycles(): string[][] {
  const edges = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/^(?:import|export)\s+(?:type\s+)?[^'"]*?from\s+'(\.[^']+)'/gm)].map(
      (m) => resolve(dirname(file), m[1] ?? ''),
    );
    edges.set(file, targets);
  }
  const cycles: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'visiting');
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      if (!edges.has(next)) continue;
      if (state.get(next) === 'visiting') {
        cycles.push(stack.slice(stack.indexOf(next)).map((f) => relative(SRC, f)));
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of edges.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

describe('import boundaries between the folders of src/ (docs/architecture.md)', () => {
  const allowed = allowedImports();
  const all = crossings();

  it('reads a rule for every folder of src/ from docs/architecture.md', () => {
    const groups = new Set(
      sourceFiles(SRC)
        .map(groupOf)
        .filter((group) => !SHARED_LEAVES.has(group)),
    );
    expect([...groups].filter((group) => !allowed.has(group))).toEqual([]);
    expect(all.length).toBeGreaterThan(50);
  });

  it('keeps every import within what the table allows, with no exemptions', () => {
    const violations = all
      .filter(({ to }) => !SHARED_LEAVES.has(to))
      .filter(({ from, to }) => !SHARED_LEAVES.has(from) && !allowed.get(from)?.has(to))
      .map(({ from, to, file }) => `${file}: ${from} -> ${to}`);
    expect(violations).toEqual([]);
  });

  it('has no import cycle between files', () => {
    expect(fileCycles()).toEqual([]);
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

/**
 * What a V8 heap snapshot (.heapsnapshot) holds, by constructor: the total self size and count of each
 * class of object (DevTools' "Summary" view), and for the largest classes the references that hold
 * their instances (`Holder.property`, summed over the instances' self size) — enough to name the map or
 * array that grows, without computing retained sizes (a dominator tree) over millions of nodes.
 *
 * Also runnable alone: `npx tsx bench/support/memory-heap-summary.ts <file.heapsnapshot> [top]`.
 */
import { readFileSync } from 'node:fs';
import { round } from './bench-kit.ts';

interface HeapSnapshotFile {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface HeapSummary {
  totalMb: number;
  nodes: number;
  byConstructor: Array<{
    name: string;
    selfMb: number;
    count: number;
    heldBy: Array<{ by: string; mb: number }>;
  }>;
}

export function summarizeHeapSnapshot(path: string, top = 15): HeapSummary {
  const heap = JSON.parse(readFileSync(path, 'utf8')) as HeapSnapshotFile;
  const { meta } = heap.snapshot;
  const nodeWidth = meta.node_fields.length;
  const edgeWidth = meta.edge_fields.length;
  const typeAt = meta.node_fields.indexOf('type');
  const nameAt = meta.node_fields.indexOf('name');
  const sizeAt = meta.node_fields.indexOf('self_size');
  const edgeCountAt = meta.node_fields.indexOf('edge_count');
  const edgeTypeAt = meta.edge_fields.indexOf('type');
  const edgeNameAt = meta.edge_fields.indexOf('name_or_index');
  const edgeToAt = meta.edge_fields.indexOf('to_node');
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges, strings } = heap;

  // DevTools' grouping: objects by constructor name, everything else by its kind.
  const classOf = (node: number): string => {
    const kind = nodeTypes[nodes[node + typeAt] as number] ?? 'unknown';
    const name = strings[nodes[node + nameAt] as number] ?? '';
    if (kind === 'object' || kind === 'native') return name;
    if (kind.includes('string')) return '(string)';
    if (kind === 'closure') return '(closure)';
    if (kind === 'code') return '(compiled code)';
    if (kind === 'hidden' || kind === 'object shape') return '(system)';
    return `(${kind})${name && kind === 'array' ? ` ${name}` : ''}`;
  };

  const totals = new Map<string, { size: number; count: number }>();
  let totalSize = 0;
  for (let node = 0; node < nodes.length; node += nodeWidth) {
    const size = nodes[node + sizeAt] as number;
    const key = classOf(node);
    const entry = totals.get(key) ?? { size: 0, count: 0 };
    entry.size += size;
    entry.count += 1;
    totals.set(key, entry);
    totalSize += size;
  }
  const largest = [...totals.entries()].sort((a, b) => b[1].size - a[1].size).slice(0, top);
  const largestNames = new Set(largest.map(([name]) => name));

  const heldBy = new Map<string, Map<string, number>>();
  let edge = 0;
  for (let node = 0; node < nodes.length; node += nodeWidth) {
    const edgeCount = nodes[node + edgeCountAt] as number;
    const holder = classOf(node);
    for (let i = 0; i < edgeCount; i++, edge += edgeWidth) {
      const edgeType = edgeTypes[edges[edge + edgeTypeAt] as number];
      // Links every object has (its prototype, its hidden class) say nothing about who keeps it alive.
      if (edgeType === 'weak' || edgeType === 'shortcut' || edgeType === 'internal') continue;
      const edgeName = strings[edges[edge + edgeNameAt] as number];
      if (edgeType === 'property' && edgeName === '__proto__') continue;
      const target = edges[edge + edgeToAt] as number;
      const targetClass = classOf(target);
      if (!largestNames.has(targetClass)) continue;
      const label =
        edgeType === 'element' || edgeType === 'hidden' ? `${holder}[]` : `${holder}.${edgeName ?? '?'}`;
      const byHolder = heldBy.get(targetClass) ?? new Map<string, number>();
      byHolder.set(label, (byHolder.get(label) ?? 0) + (nodes[target + sizeAt] as number));
      heldBy.set(targetClass, byHolder);
    }
  }

  const mb = (bytes: number) => round(bytes / 1024 / 1024, 2);
  return {
    totalMb: mb(totalSize),
    nodes: nodes.length / nodeWidth,
    byConstructor: largest.map(([name, { size, count }]) => ({
      name,
      selfMb: mb(size),
      count,
      heldBy: [...(heldBy.get(name)?.entries() ?? [])]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5)
        .map(([by, bytes]) => ({ by, mb: mb(bytes) })),
    })),
  };
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const path = process.argv[2];
  if (!path) throw new Error('usage: memory-heap-summary.ts <file.heapsnapshot> [top]');
  process.stdout.write(
    `${JSON.stringify(summarizeHeapSnapshot(path, Number(process.argv[3] ?? 15)), null, 2)}\n`,
  );
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests of /metrics: it
 * throws, naming the line, on anything a Prometheus server would refuse or that breaks the format's rules
 * (a sample before its TYPE, a family declared twice, a repeated series, a bad name, label or value,
 * histogram buckets that are not cumulative or disagree with `_count`).
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const series = new Set<string>();
  const typed = new Set<string>();
  const helped = new Set<string>();
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a line feed');
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line.slice(0, 80))})`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (meta === null) return; // a plain comment
      const [, kind, name = '', rest = ''] = meta;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      const family = families.get(name) ?? { name, type: 'untyped' as MetricType, help: '', samples: [] };
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type`);
        if (families.get(name)?.samples.length) throw new Error(`${where}: TYPE after samples`);
        if (typed.has(name)) throw new Error(`${where}: a second TYPE`);
        family.type = rest as MetricType;
        typed.add(name);
      } else {
        if (helped.has(name)) throw new Error(`${where}: a second HELP`);
        family.help = rest;
        helped.add(name);
      }
      families.set(name, family);
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(families, sample.name);
    if (family === undefined) throw new Error(`${where}: a sample of no declared family`);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (series.has(key)) throw new Error(`${where}: the same series twice`);
    series.add(key);
    family.samples.push(sample);
  });
  for (const family of families.values()) {
    if (family.type === 'histogram') checkHistogram(family);
  }
  return families;
}

function parseSample(line: string, where: string): Sample {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line);
  if (match === null) throw new Error(`${where}: not a sample`);
  const [, name = '', rawLabels, rawValue = ''] = match;
  const labels = rawLabels === undefined ? {} : parseLabels(rawLabels.slice(1, -1), where);
  return { name, labels, value: parseValue(rawValue, where) };
}

function parseLabels(body: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = body;
  while (rest.length > 0) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,?)/.exec(rest);
    if (m === null) throw new Error(`${where}: bad labels at ${JSON.stringify(rest.slice(0, 40))}`);
    const [all, name = '', raw = '', comma] = m;
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`${where}: bad label name ${name}`);
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    labels[name] = raw.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(all.length);
    if (comma === '' && rest.length > 0) throw new Error(`${where}: labels not separated by commas`);
  }
  return labels;
}

/** As Go's strconv.ParseFloat reads it (the format's rule): NaN and Inf in any case (prom-client writes `Nan`). */
function parseValue(raw: string, where: string): number {
  const special = raw.toLowerCase();
  if (special === 'nan') return Number.NaN;
  if (special === '+inf' || special === 'inf' || special === '+infinity' || special === 'infinity') {
    return Number.POSITIVE_INFINITY;
  }
  if (special === '-inf' || special === '-infinity') return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new Error(`${where}: bad value ${raw}`);
  return Number(raw);
}

/** The family a sample belongs to: its own name, or a histogram's or summary's `_bucket`/`_sum`/`_count`. */
function familyOf(families: Map<string, Family>, sampleName: string): Family | undefined {
  const own = families.get(sampleName);
  if (own !== undefined && own.type !== 'histogram') return own;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = families.get(sampleName.slice(0, -suffix.length));
    if (base && (base.type === 'histogram' || (base.type === 'summary' && suffix !== '_bucket'))) return base;
  }
  return undefined;
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      group.buckets.push([parseValue(le, `${family.name} le`), sample.value]);
    } else if (sample.name.endsWith('_count')) group.count = sample.value;
    else if (sample.name.endsWith('_sum')) group.sum = sample.value;
  }
  for (const [key, group] of groups) {
    const sorted = [...group.buckets].sort((a, b) => a[0] - b[0]);
    const last = sorted[sorted.length - 1];
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY) {
      throw new Error(`${family.name}${key}: no +Inf bucket`);
    }
    for (let i = 1; i < sorted.length; i++) {
      if ((sorted[i]?.[1] ?? 0) < (sorted[i - 1]?.[1] ?? 0))
        throw new Error(`${family.name}${key}: buckets not cumulative`);
    }
    if (group.count !== last[1]) throw new Error(`${family.name}${key}: _count is not the +Inf bucket`);
    if (group.sum === undefined) throw new Error(`${family.name}${key}: no _sum`);
  }
}

/**
 * The value of one series: `sampleName` (e.g. `am_task_run_seconds_count`) whose labels include `labels`;
 * 0 when there is none (a labelled counter appears at its first increment), the sum when several match.
 */
export function seriesValue(
  families: Map<string, Family>,
  sampleName: string,
  labels: Record<string, string> = {},
): number {
  let total = 0;
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== sampleName) continue;
      if (Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) total += sample.value;
    }
  }
  return total;
}

/** The metric families deploy/grafana/agentmanager.json queries (a histogram's series named by its family). */
export function dashboardFamilies(): string[] {
  const path = join(import.meta.dirname, '../../../deploy/grafana/agentmanager.json');
  const names = readFileSync(path, 'utf8').match(/\bam_[a-z0-9_]+/g) ?? [];
  return [...new Set(names.map((name) => name.replace(/_(bucket|sum|count)$/, '')))];
}

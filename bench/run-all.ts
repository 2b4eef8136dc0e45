/**
 * `npm run bench`: every benchmark, one after another, each in a process of its own (so one's memory and
 * warm caches do not flatter the next), and their reports gathered into bench/results/<date>.json and a
 * markdown table of the headline rows in bench/results/<date>.md.
 *
 * Env: BENCH_ONLY=name,name (e.g. `throughput,replay`) runs those only and updates them in the day's
 * files, keeping the other benchmarks' results there; every other BENCH_* variable
 * reaches the benchmarks unchanged. A benchmark that fails is recorded with its exit code and the rest
 * still run; the exit code is 1 if any failed.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { resolveNatsServerBinary } from '../src/store/nats-server-process.ts';
import { type BenchReport, type HeadlineRow, ROOT, round } from './support/bench-kit.ts';

const ALL = [
  'append-floor',
  'throughput',
  'dispatch-latency',
  'makespan',
  'contention',
  'replay',
  'memory',
] as const;

interface Failure {
  failed: true;
  exitCode: number | null;
  reason: string;
}

type Outcome = BenchReport | Failure;

const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim());
const selected = only ? ALL.filter((name) => only.includes(name)) : [...ALL];
const unknown = only?.filter((name) => !(ALL as readonly string[]).includes(name)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(`BENCH_ONLY names no benchmark: ${unknown.join(', ')} (known: ${ALL.join(', ')})\n`);
  process.exit(2);
}

const benchmarks: Record<string, Outcome> = {};
for (const name of selected) {
  process.stderr.write(`\n=== ${name} ===\n`);
  const startedAt = performance.now();
  benchmarks[name] = await runOne(name);
  process.stderr.write(`=== ${name}: ${round((performance.now() - startedAt) / 1000, 1)} s ===\n`);
}

const date = new Date().toISOString().slice(0, 10);
const dir = join(ROOT, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const jsonPath = join(dir, `${date}.json`);
const mdPath = join(dir, `${date}.md`);
// A BENCH_ONLY run updates its benchmarks in the day's file and keeps the others (a rerun of one must
// not erase the rest of the table); a full run replaces the file.
const earlier =
  only && existsSync(jsonPath)
    ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as { benchmarks?: Record<string, Outcome> }).benchmarks
    : undefined;
const ordered = Object.fromEntries(
  ALL.filter((name) => name in benchmarks || (earlier !== undefined && name in earlier)).map((name) => [
    name,
    (benchmarks[name] ?? earlier?.[name]) as Outcome,
  ]),
);
const results = { date, machine: machine(), versions: versions(), benchmarks: ordered };
writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
const markdown = renderMarkdown(results);
writeFileSync(mdPath, markdown);
process.stderr.write(`\n${markdown}\n${jsonPath}\n${mdPath}\n`);
const failed = Object.entries(benchmarks).filter(([, outcome]) => 'failed' in outcome);
if (failed.length > 0) {
  process.stderr.write(`failed: ${failed.map(([name]) => name).join(', ')}\n`);
  process.exit(1);
}

/** Runs one benchmark file; its report is the last JSON object on its stdout. */
function runOne(name: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', `${name}.bench.ts`)], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.once('error', (error) => resolve({ failed: true, exitCode: null, reason: error.message }));
    child.once('exit', (code, signal) => {
      if (code !== 0) {
        resolve({ failed: true, exitCode: code, reason: signal ? `killed by ${signal}` : `exit ${code}` });
        return;
      }
      const report = lastJsonObject(stdout);
      if (report === null) resolve({ failed: true, exitCode: code, reason: 'no JSON report on stdout' });
      else resolve({ ...report, headline: Array.isArray(report.headline) ? report.headline : [] });
    });
  });
}

/**
 * The last top-level `{…}` of the output that parses: printReport writes it indented over many lines,
 * so a report starts at a line that is exactly `{`.
 */
function lastJsonObject(output: string): BenchReport | null {
  const lines = output.split('\n');
  for (let start = lines.length - 1; start >= 0; start--) {
    if (!lines[start]?.startsWith('{')) continue;
    try {
      const parsed: unknown = JSON.parse(lines.slice(start).join('\n'));
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
        return parsed as BenchReport;
    } catch {
      // Not the start of the report (or trailing output after it): keep looking upwards.
    }
  }
  return null;
}

function machine() {
  const cpuList = cpus();
  return {
    cpus: { model: cpuList[0]?.model.trim() ?? 'unknown', count: cpuList.length },
    memGiB: round(totalmem() / 1024 ** 3, 1),
    os: `${type()} ${release()}`,
  };
}

function versions(): Record<string, string> {
  const firstLine = (binary: string, args: string[]) => {
    try {
      // `nats-server: v2.9.10`, `Redis server v=7.0.15 sha=…`: the version number is what compares.
      const output = execFileSync(binary, args, { encoding: 'utf8' });
      return /\d+\.\d+\.\d+/.exec(output)?.[0] ?? output.split('\n')[0]?.trim() ?? 'unknown';
    } catch {
      return 'not found';
    }
  };
  const packageVersion = (path: string) => {
    try {
      return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  return {
    node: process.version,
    'nats-server': firstLine(resolveNatsServerBinary(), ['--version']),
    'redis-server': firstLine('redis-server', ['--version']),
    bullmq: packageVersion(join(ROOT, 'node_modules', 'bullmq', 'package.json')),
    agentmanager: packageVersion(join(ROOT, 'package.json')),
  };
}

function renderMarkdown(results: {
  date: string;
  machine: ReturnType<typeof machine>;
  versions: Record<string, string>;
  benchmarks: Record<string, Outcome>;
}): string {
  const cell = (value: unknown) => String(value ?? '—').replaceAll('|', '\\|');
  const met = (row: HeadlineRow) => (row.met === null ? '—' : row.met ? 'yes' : 'no');
  const lines = [
    `# Benchmarks ${results.date}`,
    '',
    '| Figure | AM | Goal | Met | BullMQ |',
    '|---|---|---|---|---|',
  ];
  for (const [name, outcome] of Object.entries(results.benchmarks)) {
    if ('failed' in outcome) {
      lines.push(`| ${name} | failed (${cell(outcome.reason)}) | | | |`);
      continue;
    }
    if (outcome.headline.length === 0) lines.push(`| ${name} | no headline rows | | | |`);
    for (const row of outcome.headline) {
      const bullmq =
        row.bullmq === undefined || row.bullmq === null
          ? '—'
          : typeof row.bullmq === 'number'
            ? `${row.bullmq} ${row.unit}`
            : row.bullmq;
      lines.push(
        `| ${cell(row.figure)} | ${cell(`${row.value} ${row.unit}`)} | ${cell(row.goal)} | ${met(row)} | ${cell(bullmq)} |`,
      );
    }
  }
  const { cpus: cpu, memGiB, os } = results.machine;
  const versionList = Object.entries(results.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  lines.push('', `Machine: ${cpu.count} × ${cpu.model}, ${memGiB} GiB, ${os}. Versions: ${versionList}.`, '');
  return lines.join('\n');
}

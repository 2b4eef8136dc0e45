#!/usr/bin/env node
// `npm test`: the tiers one after the other (never two at once: the e2e and chaos tiers make timing
// assertions that fail beside other load), each with its duration printed against its budget. The first
// failing tier fails the run. `node test/run-tiers.mjs unit int` runs only the tiers named (and what they
// need: the e2e and chaos tiers run the compiled `am` of dist/, so `build` runs before them).
import { spawnSync } from 'node:child_process';

/** Budgets in seconds on the 2-core development machine; README lists the same figures. */
const TIERS = [
  { name: 'typecheck', budget: 60, command: ['npx', 'tsc', '--noEmit'] },
  { name: 'lint', budget: 30, command: ['npx', 'biome', 'check', '.'] },
  { name: 'unit', budget: 90, command: ['npx', 'vitest', 'run', '--project', 'unit'] },
  { name: 'int', budget: 240, command: ['npx', 'vitest', 'run', '--project', 'int'] },
  { name: 'build', budget: 60, command: ['npm', 'run', 'build', '--silent'] },
  { name: 'e2e', budget: 420, command: ['npx', 'vitest', 'run', '--project', 'e2e'], needs: ['build'] },
  { name: 'chaos', budget: 240, command: ['npx', 'vitest', 'run', '--project', 'chaos'], needs: ['build'] },
  {
    name: 'cluster',
    budget: 180,
    command: ['npx', 'vitest', 'run', '--project', 'cluster'],
    needs: ['build'],
  },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !TIERS.some((tier) => tier.name === name));
if (unknown.length > 0) {
  console.error(
    `run-tiers: unknown tier ${unknown.join(', ')}; tiers: ${TIERS.map((t) => t.name).join(', ')}`,
  );
  process.exit(2);
}
const needed = new Set(wanted.flatMap((name) => TIERS.find((tier) => tier.name === name)?.needs ?? []));
const selected =
  wanted.length === 0 ? TIERS : TIERS.filter((tier) => wanted.includes(tier.name) || needed.has(tier.name));
const results = [];
let failed = null;
for (const tier of selected) {
  console.log(`\n=== ${tier.name} (budget ${tier.budget} s) ===`);
  const startedAt = Date.now();
  const run = spawnSync(tier.command[0], tier.command.slice(1), { stdio: 'inherit' });
  const seconds = (Date.now() - startedAt) / 1000;
  const ok = run.status === 0;
  results.push({ ...tier, seconds, ok });
  console.log(
    `=== ${tier.name}: ${ok ? 'passed' : 'FAILED'} in ${seconds.toFixed(1)} s (budget ${tier.budget} s)${seconds > tier.budget ? ' — OVER BUDGET' : ''} ===`,
  );
  if (!ok) {
    failed = tier.name;
    break;
  }
}
console.log('\ntier       seconds  budget');
for (const r of results) {
  console.log(
    `${r.name.padEnd(10)} ${r.seconds.toFixed(1).padStart(7)}  ${String(r.budget).padStart(6)}${r.ok ? '' : '  FAILED'}${r.seconds > r.budget ? '  over budget' : ''}`,
  );
}
const total = results.reduce((sum, r) => sum + r.seconds, 0);
console.log(`${'total'.padEnd(10)} ${total.toFixed(1).padStart(7)}`);
process.exit(failed === null ? 0 : 1);

import { defineConfig } from 'vitest/config';

// Tiers by suffix (CONVENTIONS.md). Integration, e2e and chaos files each start their own nats-server
// and processes, so they run with little parallelism on a 2-core machine; test/run-tiers.mjs runs the
// tiers one after the other and prints each one's duration against its budget.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.unit.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'int',
          include: ['test/**/*.int.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          globalSetup: ['test/kit/fresh-build.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          maxWorkers: 1,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
      {
        // Faults (kill -9 of nats-server, servers and workers; restarts): real processes, timing
        // assertions, so one file at a time and never beside another tier (test/run-tiers.mjs).
        test: {
          name: 'chaos',
          include: ['test/**/*.chaos.test.ts'],
          globalSetup: ['test/kit/fresh-build.ts'],
          testTimeout: 240_000,
          hookTimeout: 120_000,
          maxWorkers: 1,
          fileParallelism: false,
          sequence: { groupOrder: 3 },
        },
      },
      {
        // A 3-node NATS cluster from deploy/nats on loopback, with leaders killed: like chaos, one file
        // at a time and never beside another tier.
        test: {
          name: 'cluster',
          include: ['test/**/*.cluster.test.ts'],
          globalSetup: ['test/kit/fresh-build.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          maxWorkers: 1,
          fileParallelism: false,
          sequence: { groupOrder: 4 },
        },
      },
    ],
  },
});

import type { Worker } from '../../src/worker/worker.ts';

/**
 * The protocol between a benchmark and its worker processes (bench-kit's spawnAll/stopAll): print
 * `ready`, and on SIGTERM stop the worker, print `done <completed>` and `cpu <ms since ready>`, exit 0.
 */
export function serveBenchProtocol(worker: Worker): void {
  const cpuAtReady = process.cpuUsage();
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    const cpu = process.cpuUsage(cpuAtReady);
    void worker.stop().then(() => {
      process.stdout.write(`done ${worker.stats.completed}\ncpu ${(cpu.user + cpu.system) / 1000}\n`);
      process.exit(0);
    });
  });
}

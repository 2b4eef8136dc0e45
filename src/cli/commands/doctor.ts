import type { Command } from 'commander';
import type { DoctorOptions } from './doctor.run.ts';

/** `am doctor [--config FILE]`: checks a deployment and says what to fix. */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'check a deployment: server reachable, token valid, readiness and lag, clock skew, and with NATS_URL the stream (replicas on a cluster, nats-server version); exits 1 when a check fails',
    )
    .option('--config <file>', 'a mcp_client_config.json naming the server and a token')
    .action(async (opts: DoctorOptions) => (await import('./doctor.run.ts')).runDoctor(opts));
}

import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerAgentsCommand } from './commands/agents.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerDoctorCommand } from './commands/doctor.ts';
import { registerEventsCommand } from './commands/events.ts';
import { registerGraphCommand } from './commands/graph.ts';
import { registerGraphActionCommands } from './commands/graph-actions.ts';
import { registerMcpCommand } from './commands/mcp.ts';
import { registerProjectionsCommand } from './commands/projections.ts';
import { registerServerCommand } from './commands/server.ts';
import { registerSubmitCommand } from './commands/submit.ts';
import { registerUpCommand } from './commands/up.ts';
import { registerWorkerCommand } from './commands/worker.ts';
import { guardStdout } from './process-signals.ts';

/** The `am` command. Subcommands are wired here; each lives in its own file under src/cli/commands. */
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command()
  .name('am')
  .description('AgentManager: plan → parallel work → audit → rework → synthesis, on NATS JetStream')
  .version(pkg.version, '-v, --version')
  .option('--verbose', 'print stack traces on errors');

guardStdout();
registerUpCommand(program);
registerServerCommand(program);
registerWorkerCommand(program);
registerSubmitCommand(program);
registerGraphCommand(program);
registerEventsCommand(program);
registerAgentsCommand(program);
registerGraphActionCommands(program);
registerDemoCommand(program);
registerProjectionsCommand(program);
registerDoctorCommand(program);
registerMcpCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // One clear line and a non-zero exit; the stack only with --verbose.
  const verbose = process.argv.includes('--verbose');
  process.stderr.write(`am: ${(error as Error).message}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
}

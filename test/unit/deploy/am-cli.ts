import { Command } from 'commander';
import { registerAgentsCommand } from '../../../src/cli/commands/agents.ts';
import { registerServerCommand } from '../../../src/cli/commands/server.ts';
import { registerWorkerCommand } from '../../../src/cli/commands/worker.ts';
import { ConfigSchema } from '../../../src/config.ts';

export interface ParsedInvocation {
  /** The subcommand path, e.g. `agents add`. */
  command: string;
  args: string[];
  options: Record<string, unknown>;
}

/** Every option an `am` subcommand was given, as commander parsed it. */
function stubbed(command: Command, path: string[], seen: ParsedInvocation[]): void {
  command.exitOverride();
  command.configureOutput({ writeOut: () => {}, writeErr: () => {} });
  for (const sub of command.commands) {
    const subPath = [...path, sub.name()];
    sub.action((...received: unknown[]) => {
      // commander passes the arguments, then the options object, then the command itself.
      const options = received.at(-2) as Record<string, unknown>;
      seen.push({ command: subPath.join(' '), args: received.slice(0, -2) as string[], options });
    });
    stubbed(sub, subPath, seen);
  }
}

/**
 * Parses `argv` (what follows `am`) with the real command definitions of the subcommands the deploy
 * files use, their actions replaced: an unknown subcommand or flag, or a missing value, throws.
 */
export function parseAm(argv: readonly string[]): ParsedInvocation {
  const program = new Command().name('am');
  registerServerCommand(program);
  registerWorkerCommand(program);
  registerAgentsCommand(program);
  const seen: ParsedInvocation[] = [];
  stubbed(program, [], seen);
  program.parse(['node', 'am', ...argv]);
  const invocation = seen[0];
  if (invocation === undefined) throw new Error(`am ${argv.join(' ')}: no subcommand ran`);
  return invocation;
}

/** The variables AM reads (src/config.ts); nothing else reads process.env. */
export const AM_VARIABLES: ReadonlySet<string> = new Set(Object.keys(ConfigSchema.shape));

#!/usr/bin/env node
// Runs the compiled CLI: dist/, built by `npm run build`, which `npm ci` runs through the `prepare` script.
// Subcommands load their implementation only when they run, so `am --help` is quick.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    'am: dist/ is missing — run "npm run build" in the AgentManager folder (npm ci runs it)\n',
  );
  process.exit(1);
}
await import(main.href);

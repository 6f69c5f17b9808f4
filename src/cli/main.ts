#!/usr/bin/env node
/**
 * main.ts: the `trm` command. Finds the subcommand, parses its flags from its options table and
 * runs it. Known errors (TrmError) print one line `trm: <message>` and exit 1 (usage errors 2);
 * anything else is a bug and keeps its stack. TRM_DEBUG=1 shows stacks for everything.
 */
import { commandHelp, parseCommandArgs } from '../cli/command.js';
import { TrmError, UsageError } from '../errors.js';
import { commands } from './commands/index.js';

function topHelp(): string {
  const w = Math.max(...commands.map(c => c.name.length)) + 2;
  return [
    'Usage: trm <command> [options]', '',
    'Tiny Recursive Models on the CPU: data, training, evaluation and experiments.', '',
    'Commands:',
    ...commands.map(c => `  ${c.name.padEnd(w)}${c.summary}`), '',
    "Run 'trm <command> --help' for a command's options.",
    'Environment: TRM_THREADS (kernel threads), TRM_KERNELS=ref (TypeScript reference kernels),',
    '             TRM_ISA=portable|avx2|avx512 (force a lower native path), TRM_DEBUG=1 (stacks).',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(topHelp());
    return name ? 0 : 2;
  }
  const cmd = commands.find(c => c.name === name);
  if (!cmd) throw new UsageError(`unknown command '${name}' (commands: ${commands.map(c => c.name).join(', ')})`);
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(commandHelp(cmd));
    return 0;
  }
  const code = await cmd.run(parseCommandArgs(cmd, rest));
  return typeof code === 'number' ? code : 0;
}

main(process.argv.slice(2)).then(
  code => { process.exitCode = code; },
  (e: unknown) => {
    if (e instanceof TrmError && !process.env.TRM_DEBUG) {
      console.error(`trm: ${e.message}`);
      process.exitCode = e instanceof UsageError ? 2 : 1;
    } else {
      console.error(e);
      process.exitCode = 1;
    }
  },
);

#!/usr/bin/env node
/**
 * main.ts: the `trm` command. Finds the subcommand, parses its flags from its options table and
 * runs it. Known errors (TrmError) print one line `trm: <message>` and exit 1 (usage errors 2);
 * so do two classes of environment failure that escaped a TrmError wrapper: a filesystem error
 * naming a path, and an allocation too large for this machine. Anything else is a bug and keeps
 * its stack. TRM_DEBUG=1 shows stacks for everything. Messages are printed with control bytes
 * escaped (a binary file's contents cannot reach the terminal raw).
 */
import { commandHelp, parseCommandArgs } from '../cli/command.js';
import { printable, TrmError, UsageError } from '../errors.js';
import { ioReason } from '../io/files.js';
import { environmentWarnings } from './env.js';
import { commands } from './commands/index.js';

function topHelp(): string {
  const w = Math.max(...commands.map(c => c.name.length)) + 2;
  return [
    'Usage: trm <command> [options]',
    '',
    'Tiny Recursive Models on the CPU: data, training, evaluation and experiments.',
    '',
    'Commands:',
    ...commands.map(c => `  ${c.name.padEnd(w)}${c.summary}`),
    '',
    "Run 'trm <command> --help' for a command's options.",
    'Environment: TRM_THREADS (kernel threads), TRM_KERNELS=ref (TypeScript reference kernels),',
    '             TRM_ISA=portable|avx2|avx512 (force a lower native path), TRM_DEBUG=1 (stacks).',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  for (const w of environmentWarnings()) console.error(`trm: warning: ${w}`);
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

const WRITES = new Set([
  'mkdir',
  'write',
  'rename',
  'unlink',
  'rmdir',
  'rm',
  'copyfile',
  'symlink',
  'link',
  'ftruncate',
  'fsync',
  'close',
  'chmod',
  'utime',
]);

/** The one-line message of an error that is not a bug, or null (print the stack). */
function knownMessage(e: unknown): string | null {
  if (e instanceof TrmError) return e.message;
  const fe = e as NodeJS.ErrnoException | null;
  if (fe && typeof fe.code === 'string' && typeof fe.syscall === 'string' && typeof fe.path === 'string') {
    const verb = fe.syscall === 'open' ? 'open' : WRITES.has(fe.syscall) ? 'write' : 'read';
    return `cannot ${verb} ${fe.path}: ${ioReason(fe)}`;
  }
  if (
    e instanceof RangeError &&
    /Invalid typed array length|Array buffer allocation failed|Invalid array length/.test(e.message)
  )
    return `out of memory (${e.message}): the model, batch or dataset sizes are too large for this machine; TRM_DEBUG=1 shows where`;
  return null;
}

main(process.argv.slice(2)).then(
  code => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const msg = process.env.TRM_DEBUG ? null : knownMessage(e);
    if (msg !== null) {
      console.error(`trm: ${printable(msg)}`);
      process.exitCode = e instanceof UsageError ? 2 : 1;
    } else {
      console.error(e);
      process.exitCode = 1;
    }
  },
);

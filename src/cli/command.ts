/**
 * command.ts: the shape of a `trm` subcommand. Each file in commands/ exports one Command; its
 * options table is typed data that drives both parsing (node:util parseArgs, strict: unknown
 * flags are usage errors) and `--help`.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in --help; say the unit and the default. */
  description: string;
  /** Placeholder for the value in --help, e.g. 'N' or 'FILE'. */
  argument?: string;
  default?: string | boolean;
  multiple?: boolean;
}

export interface Command {
  name: string;
  summary: string;
  /** Usage line after `trm <name>`, e.g. '[gemm|sudoku] [--json]'. */
  usage: string;
  options: Record<string, OptionSpec>;
  /** Longer help text printed after the options (examples). */
  details?: string;
  run(args: ParsedArgs): Promise<number | void>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }> = {};
  for (const [name, o] of Object.entries(cmd.options)) {
    options[name] = { type: o.type };
    if (o.short) options[name].short = o.short;
    if (o.multiple) options[name].multiple = true;
    if (o.default !== undefined) options[name].default = o.default;
  }
  // `--nsup -1`: a value that looks like a negative number is the option's value (node's parser
  // would call it ambiguous), so the option's own check can say what range it expects
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    if (name && cmd.options[name]?.type === 'string' && /^-\d/.test(argv[i + 1] ?? '')) args.push(`${argv[i]}=${argv[++i]}`);
    else args.push(argv[i]);
  }
  try {
    const r = parseArgs({ args, options: options as never, allowPositionals: true, strict: true });
    return { values: r.values as ParsedArgs['values'], positionals: r.positionals };
  } catch (e) {
    throw new UsageError(`${cmd.name}: ${(e as Error).message.split('\n')[0]} (see 'trm ${cmd.name} --help')`);
  }
}

export function commandHelp(cmd: Command): string {
  const lines = [`Usage: trm ${cmd.name} ${cmd.usage}`, '', cmd.summary, ''];
  const rows = Object.entries(cmd.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.argument ?? 'VALUE'}` : ''}`;
    const def = o.default !== undefined && o.default !== false ? ` (default: ${o.default})` : '';
    return [flag, o.description + def] as const;
  });
  rows.push(['-h, --help', 'show this help']);
  const w = Math.max(...rows.map(r => r[0].length)) + 2;
  lines.push('Options:', ...rows.map(([f, d]) => `  ${f.padEnd(w)}${d}`));
  if (cmd.details) lines.push('', cmd.details.trimEnd());
  return lines.join('\n');
}

/** Read a string option that must be an integer in [min, max]; a usage error otherwise. */
export function intOption(args: ParsedArgs, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  const s = String(v);
  if (!/^-?\d+$/.test(s) || Number(s) < min || Number(s) > max)
    throw new UsageError(`--${name}: expected an integer in [${min}, ${max}], got '${s}'`);
  return Number(s);
}

/** A comma-separated list of integers in [min, max], e.g. '1,2,4'. */
export function intList(args: ParsedArgs, name: string, min: number, max: number): number[] | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  const parts = String(v).split(',').map(s => s.trim());
  if (!parts.every(s => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max))
    throw new UsageError(`--${name}: expected integers in [${min}, ${max}] separated by commas, got '${String(v)}'`);
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}

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

/** The parsed value of one option: a string (or strings) or a flag, undefined when absent. */
type ValueOf<O extends OptionSpec> = [O['type']] extends ['boolean']
  ? (O['multiple'] extends true ? boolean[] : boolean) | (O['default'] extends boolean ? never : undefined)
  : [O['type']] extends ['string']
    ? (O['multiple'] extends true ? string[] : string) | (O['default'] extends string ? never : undefined)
    : string | boolean | string[] | boolean[] | undefined; // an untyped table

/** Parsed options as a typed record: `values.out` is `string | undefined` for a string option
 *  without a default, `boolean` for a flag with one, and so on; no casts at the call site. */
export type OptionValues<T extends Record<string, OptionSpec>> = { [K in keyof T]: ValueOf<T[K]> };

export interface Command<T extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  name: string;
  summary: string;
  /** Usage line after `trm <name>`, e.g. '[gemm|sudoku] [--json]'. */
  usage: string;
  options: T;
  /** Longer help text printed after the options (examples). */
  details?: string;
  run(args: ParsedArgs<T>): Promise<number | void>;
}

export interface ParsedArgs<T extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  values: OptionValues<T>;
  positionals: string[];
}

/** A command whose options table types its parsed values (the table is checked as written). */
export function defineCommand<const T extends Record<string, OptionSpec>>(cmd: Command<T>): Command {
  return cmd as unknown as Command;
}

export function parseCommandArgs<T extends Record<string, OptionSpec>>(cmd: Command<T>, argv: string[]): ParsedArgs<T> {
  const options: Record<
    string,
    { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }
  > = {};
  for (const [name, o] of Object.entries(cmd.options as Record<string, OptionSpec>)) {
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
    if (name && (cmd.options as Record<string, OptionSpec>)[name]?.type === 'string' && /^-\d/.test(argv[i + 1] ?? ''))
      args.push(`${argv[i]}=${argv[++i]}`);
    else args.push(argv[i]);
  }
  try {
    const r = parseArgs({ args, options: options as never, allowPositionals: true, strict: true });
    return { values: r.values as OptionValues<T>, positionals: r.positionals };
  } catch (e) {
    throw new UsageError(`${cmd.name}: ${(e as Error).message.split('\n')[0]} (see 'trm ${cmd.name} --help')`);
  }
}

export function commandHelp<T extends Record<string, OptionSpec>>(cmd: Command<T>): string {
  const lines = [`Usage: trm ${cmd.name} ${cmd.usage}`, '', cmd.summary, ''];
  const rows = Object.entries(cmd.options as Record<string, OptionSpec>).map(([name, o]) => {
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
export function intOption(
  args: { values: Record<string, unknown> },
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  const s = String(v);
  if (!/^-?\d+$/.test(s) || Number(s) < min || Number(s) > max)
    throw new UsageError(`--${name}: expected an integer in [${min}, ${max}], got '${s}'`);
  return Number(s);
}

/** A comma-separated list of integers in [min, max], e.g. '1,2,4'. */
export function intList(
  args: { values: Record<string, unknown> },
  name: string,
  min: number,
  max: number,
): number[] | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  const parts = String(v)
    .split(',')
    .map(s => s.trim());
  if (!parts.every(s => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max))
    throw new UsageError(`--${name}: expected integers in [${min}, ${max}] separated by commas, got '${String(v)}'`);
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}

/**
 * A small flag parser for the qkv command: each command declares its options (name, type,
 * default, help, range); `--name value`, `--name=value`, `--flag`, `--no-flag` and positionals
 * are accepted, and anything unknown is a one-line error naming the command.
 *
 * Numbers are checked before any work starts: an integer is written in decimal digits (`0x10`,
 * `1e3` and `16.0` are refused) and must be a safe integer; a number is a finite decimal (no
 * `Infinity`, `NaN` or hex); both must lie in the option's declared range.
 */
import { ArgumentError } from '../errors.js';

export type OptionType = 'string' | 'number' | 'integer' | 'boolean' | 'list';

export interface OptionSpec {
  type: OptionType;
  help: string;
  default?: string | number | boolean | string[];
  /** Allowed values for a string option. */
  choices?: readonly string[];
  /** Smallest allowed value of a number or integer option (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
  /** The value must be greater than `min` (a number option with min 0: positive). */
  minExclusive?: boolean;
  /** The value must be smaller than `max`. */
  maxExclusive?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Extra help text (examples). */
  details?: string;
}

export type Parsed = { positionals: string[]; values: Record<string, string | number | boolean | string[] | undefined> };

/** --kebab-name → kebabName keys in `values`. */
const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function parseArgs(spec: CommandSpec, argv: string[]): Parsed {
  const values: Parsed['values'] = {};
  for (const [name, o] of Object.entries(spec.options)) values[camel(name)] = o.default;
  const positionals: string[] = [];
  const fail = (msg: string): never => {
    throw new ArgumentError(`${msg}; see \`qkv ${spec.name} --help\``);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || a === '--') {
      if (a !== '--') positionals.push(a);
      else positionals.push(...argv.slice(i + 1));
      if (a === '--') break;
      continue;
    }
    let name = a.slice(2), value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) [name, value] = [name.slice(0, eq), name.slice(eq + 1)];
    let o = spec.options[name];
    if (!o && name.startsWith('no-') && spec.options[name.slice(3)]?.type === 'boolean') {
      values[camel(name.slice(3))] = false;
      continue;
    }
    if (!o) fail(`unknown option --${name} for qkv ${spec.name}`);
    o = o!;
    if (o.type === 'boolean') {
      if (value === undefined) values[camel(name)] = true;
      else if (value === 'true' || value === 'false') values[camel(name)] = value === 'true';
      else fail(`--${name} takes no value (or true/false), got ${JSON.stringify(value)}`);
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) fail(`--${name} needs a value`);
      value = argv[++i];
    }
    values[camel(name)] = convert(name, o, value!, fail);
  }
  return { positionals, values };
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The allowed range of a number option, as text: `in [1, 65536]`, `in (0, 1]`, `≥ 0`. */
export function rangeText(o: OptionSpec): string {
  if (o.min !== undefined && o.max !== undefined) return `in ${o.minExclusive ? '(' : '['}${o.min}, ${o.max}${o.maxExclusive ? ')' : ']'}`;
  if (o.min !== undefined) return `${o.minExclusive ? '>' : '≥'} ${o.min}`;
  if (o.max !== undefined) return `${o.maxExclusive ? '<' : '≤'} ${o.max}`;
  return '';
}

function convert(name: string, o: OptionSpec, v: string, fail: (m: string) => never): string | number | string[] {
  if (o.type === 'number' || o.type === 'integer') {
    const integer = o.type === 'integer';
    const range = rangeText(o);
    const want = `${integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}`;
    if (!(integer ? INTEGER : DECIMAL).test(v.trim())) {
      fail(`--${name} must be ${want}${integer ? ' written in decimal digits' : ''}, got ${JSON.stringify(v)}`);
    }
    const n = Number(v);
    if (!Number.isFinite(n)) fail(`--${name} must be a finite number, got ${JSON.stringify(v)}`);
    if (integer && !Number.isSafeInteger(n)) fail(`--${name} must be an integer below 2^53, got ${JSON.stringify(v)}`);
    const low = o.min !== undefined && (o.minExclusive ? n <= o.min : n < o.min);
    const high = o.max !== undefined && (o.maxExclusive ? n >= o.max : n > o.max);
    if (low || high) fail(`--${name} must be ${want}, got ${v}`);
    return n;
  }
  if (o.type === 'list') return v.split(',').map((s) => s.trim()).filter(Boolean);
  if (o.choices && !o.choices.includes(v)) fail(`--${name} must be one of ${o.choices.join(', ')}, got ${JSON.stringify(v)}`);
  return v;
}

export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = o.type === 'boolean' ? `--${name}` : `--${name} ${o.type === 'list' ? 'A,B' : o.choices ? o.choices.join('|') : o.type === 'string' ? 'VALUE' : 'N'}`;
    const def = o.default === undefined || o.default === false ? '' : ` (default ${Array.isArray(o.default) ? o.default.join(',') : o.default})`;
    const range = o.type === 'number' || o.type === 'integer' ? rangeText(o) : '';
    return `  ${flag.padEnd(30)} ${o.help}${range ? `; ${range}` : ''}${def}`;
  });
  return [`qkv ${spec.name} — ${spec.summary}`, '', `Usage: ${spec.usage}`, '', 'Options:', ...rows, '  --help                         this text', '  --debug                        print stack traces', ...(spec.details ? ['', spec.details] : [])].join('\n');
}

/** The resolved configuration, one `key: value` per line, for commands to print before they start. */
export function describeConfig(values: Record<string, unknown>): string {
  return Object.entries(values).filter(([, v]) => v !== undefined).map(([k, v]) => `  ${k}: ${Array.isArray(v) ? v.join(',') : v}`).join('\n');
}

/**
 * The qkv command line: `qkv <command> [flags]`. Each command is one module under cli/; errors
 * print as one line (what, where, what to do) with a non-zero exit code, a stack only with --debug.
 */
import { QkvError } from '../errors.js';
import { VERSION } from '../version.js';
import { helpText, parseArgs, type CommandSpec, type Parsed } from './args.js';
import * as lab from './lab.js';
import * as train from './train.js';
import * as sample from './sample.js';
import * as doctor from './doctor.js';
import * as exportCmd from './export.js';
import * as bench from './bench.js';

interface Command {
  spec: CommandSpec;
  run(p: Parsed): Promise<number> | number;
}

const COMMANDS: Record<string, Command> = {
  lab, train, sample, doctor, bench, export: exportCmd,
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.spec.summary}`);
  return [
    `qkv ${VERSION} — a TypeScript transformer workbench`,
    '',
    'Usage: qkv <command> [flags]     (qkv <command> --help for its flags)',
    '',
    'Commands:',
    ...rows,
    '',
    'Global flags: --help, --version, --debug (print stack traces)',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(VERSION);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`qkv: unknown command ${JSON.stringify(name)}; run \`qkv --help\` for the list`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(helpText(cmd.spec));
    return 0;
  }
  try {
    return await cmd.run(parseArgs(cmd.spec, rest));
  } catch (err) {
    if (debug) console.error(err);
    else console.error(`qkv ${name}: ${err instanceof QkvError ? err.message : String((err as Error)?.message ?? err)} (rerun with --debug for the stack trace)`);
    return 1;
  }
}

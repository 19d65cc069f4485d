/**
 * The PyTorch installed where qkv runs, and the commands that continue an exported run with it.
 * `qkv export` prints them, and they must work as printed: torch 1.13's torchrun under Python
 * 3.11 (Debian 12's python3-torch) loses the default value of its --redirects and --tee flags
 * (`Std.from_str("0")` returns None under Python 3.11's IntFlag, and torchrun then fails with
 * "'NoneType' object has no attribute 'get'"), so there the command carries `--redirects 2
 * --tee 2` (workers' stderr to log files and the console; stdout unchanged). The need is
 * detected by asking that torch itself, not guessed from version numbers.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

export interface TorchEnv {
  /** The Python that imports torch (the command for `python train.py`). */
  python: string;
  /** `torchrun` when it is on PATH and runs with that Python, else null. */
  torchrun: string | null;
  torchVersion: string;
  pythonVersion: string;
  /** torchrun's default --redirects/--tee are lost here: pass `--redirects 2 --tee 2`. */
  needsStdWorkaround: boolean;
}

/** A program on PATH, or null. */
function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch { /* not here */ }
  }
  return null;
}

/** The interpreter of a script's `#!` line (`/usr/bin/env python3` → python3), or null. */
function shebangPython(script: string): string | null {
  let first: string;
  try {
    first = fs.readFileSync(script, 'utf8').split('\n', 1)[0];
  } catch {
    return null;
  }
  const m = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(first);
  if (!m) return null;
  return path.basename(m[1]) === 'env' && m[2] ? m[2] : m[1];
}

const PROBE = [
  'import json, sys, torch',
  'bug = False',
  'try:',
  '    from torch.distributed.elastic.multiprocessing.api import Std',
  '    bug = Std.from_str("0") is None',
  'except Exception:',
  '    pass',
  'print(json.dumps({"torch": torch.__version__, "python": "%d.%d.%d" % sys.version_info[:3], "bug": bug}))',
].join('\n');

let cached: TorchEnv | null | undefined;

/**
 * Finds the PyTorch a user here would run train.py with: the Python of `torchrun` on PATH, else
 * `python3` on PATH, else /usr/bin/python3; null when none imports torch. Takes a few seconds
 * (it imports torch); the answer is cached for the process.
 */
export function detectTorch(): TorchEnv | null {
  if (cached !== undefined) return cached;
  const torchrun = onPath('torchrun');
  const candidates = [torchrun ? shebangPython(torchrun) : null, 'python3', '/usr/bin/python3'].filter((p): p is string => p !== null);
  cached = null;
  for (const python of [...new Set(candidates)]) {
    const r = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) continue;
    try {
      const info = JSON.parse(r.stdout.trim().split('\n').pop()!) as { torch: string; python: string; bug: boolean };
      const torchrunPython = torchrun ? shebangPython(torchrun) : null;
      cached = {
        python, torchrun: torchrun && torchrunPython === python ? 'torchrun' : null,
        torchVersion: info.torch, pythonVersion: info.python, needsStdWorkaround: info.bug,
      };
      break;
    } catch { /* not the probe's output: try the next Python */ }
  }
  return cached;
}

/** `s` quoted for a POSIX shell when it needs quoting. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface ScaleOutCommands {
  /** Several processes with torchrun (DDP), as it works with the torch found. */
  multi: string;
  /** One process. */
  single: string;
  /** What was found, and why the command looks the way it does. */
  note: string;
}

/** The commands that continue the export in `dir` for `steps` steps, for `env` (null: torch not found here). */
export function scaleOutCommands(dir: string, env: TorchEnv | null, opts: { nproc?: number; steps?: number } = {}): ScaleOutCommands {
  const { nproc = 2, steps = 100 } = opts;
  const cd = `cd ${shellQuote(dir)} && `;
  const args = `train.py --steps ${steps}`;
  if (!env) {
    return {
      multi: `${cd}torchrun --nproc_per_node ${nproc} ${args}`,
      single: `${cd}python3 ${args}`,
      note: 'PyTorch was not found here, so these are the general commands; with torch 1.13 under Python 3.11 (Debian 12) torchrun needs --redirects 2 --tee 2',
    };
  }
  const python = env.python === 'python3' ? 'python3' : shellQuote(env.python);
  const workaround = env.needsStdWorkaround ? '--redirects 2 --tee 2 ' : '';
  const torchrun = env.torchrun ?? `${python} -m torch.distributed.run`;
  return {
    multi: `${cd}${torchrun} ${workaround}--nproc_per_node ${nproc} ${args}`,
    single: `${cd}${python} ${args}`,
    note: `for PyTorch ${env.torchVersion} under Python ${env.pythonVersion} (${env.python})${env.needsStdWorkaround ? '; --redirects 2 --tee 2 work around this torchrun losing its default output settings under Python 3.11' : ''}`,
  };
}

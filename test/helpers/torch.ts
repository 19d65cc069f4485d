/** Whether Debian's python3-torch is installed (tests that need PyTorch itself skip without it). */
import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

let cached: boolean | null = null;
export function hasTorch(): boolean {
  if (cached === null) cached = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  return cached;
}

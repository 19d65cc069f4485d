/**
 * Module.forward's typing: a user's subclass keeps its own signature, Sequential is Tensor → Tensor,
 * a child typed as plain Module takes and returns anything (as PyTorch's Callable[..., Any]), and
 * hooks see the module's own argument and output types — all without casts. The code below is
 * type-checked by the last test (tsc on this file) as well as run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { nn, randn, Tensor } from '../../src/index.js';

class TwoHeads extends nn.Module {
  body = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU());
  a = new nn.Linear(8, 2);
  b = new nn.Linear(8, 3);

  override forward(x: Tensor, scale = 1): { a: Tensor; b: Tensor } {
    const h: Tensor = this.body.forward(x); // Sequential: Tensor → Tensor
    return { a: this.a.forward(h).mul(scale), b: this.b.forward(h) };
  }
}

test('subclass and container forwards are called without casts, with their own types', () => {
  const m = new TwoHeads();
  const out = m.forward(randn([5, 4]), 2); // typed { a: Tensor; b: Tensor }
  assert.deepEqual([out.a.shape, out.b.shape], [[5, 2], [5, 3]]);
  const seq = new nn.Sequential(m.body, new nn.Linear(8, 1));
  const y: Tensor = seq.forward(randn([2, 4]));
  assert.deepEqual(y.shape, [2, 1]);
  // A child typed as Module (what containers hold) takes and returns anything.
  const children: nn.Module[] = [...seq.children()];
  let z: Tensor = randn([2, 4]);
  for (const c of children) z = c.forward(z);
  assert.deepEqual(z.shape, [2, 1]);
  // Sequential of non-tensor values: give the types.
  class Pair extends nn.Module {
    override forward(p: [Tensor, Tensor]): [Tensor, Tensor] {
      return [p[1], p[0]];
    }
  }
  const swapped = new nn.Sequential(new Pair()).forward<[Tensor, Tensor]>([randn([1]), randn([2])]);
  assert.deepEqual(swapped[0].shape, [2]);
});

test('hooks are typed by the module: args and output need no casts', () => {
  const m = new TwoHeads();
  const h = m.registerForwardHook((_mod, args, out) => {
    const [x, scale] = args; // [Tensor, number?]
    assert.equal(x.ndim, 2);
    assert.equal(scale, 3);
    return { a: out.a.mul(0), b: out.b };
  });
  const pre = m.registerForwardPreHook((_mod, [x]) => [x.mul(2), 3]);
  const out = m.forward(randn([1, 4]), 1);
  assert.equal(out.a.abs().sum().item(), 0);
  h.remove();
  pre.remove();
});

test('this file type-checks under the project\'s strict settings (tsc)', { timeout: 180_000 }, () => {
  const here = fileURLToPath(import.meta.url);
  const root = path.join(path.dirname(here), '..', '..');
  let tsc: string;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    return; // typescript not installed: nothing to check with
  }
  fs.mkdirSync(path.join(root, '.tmp'), { recursive: true }); // inside the project, so node_modules/@types resolves
  const dir = fs.mkdtempSync(path.join(root, '.tmp', 'typing-'));
  const config = path.join(dir, 'tsconfig.json');
  fs.writeFileSync(config, JSON.stringify({ extends: path.join(root, 'tsconfig.json'), compilerOptions: { noEmit: true, rootDir: root }, include: [], files: [here] }));
  const r = spawnSync(process.execPath, [tsc, '-p', config], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.status, 0, `tsc reported:\n${r.stdout}${r.stderr}`);
});

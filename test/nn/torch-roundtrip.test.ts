/**
 * The other direction of state-dict interop: a qkv stateDict() saved as safetensors loads into
 * the PyTorch module with strict=True and PyTorch reproduces qkv's output (checked by
 * scripts/fixtures/check_qkv.py). Needs python3-torch; skipped without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { io, manualSeed, nn, randn } from '../../src/index.js';
import { PYTHON, hasTorch } from '../helpers/torch.js';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'fixtures', 'check_qkv.py');

const MODULES: { module: string; args: unknown[]; kwargs: Record<string, unknown>; build: () => nn.Module; input: number[] }[] = [
  {
    module: 'TransformerEncoderLayer', args: [32, 4], kwargs: { dim_feedforward: 64, batch_first: true, norm_first: true },
    build: () => new nn.TransformerEncoderLayer(32, 4, { dimFeedforward: 64, batchFirst: true, normFirst: true }), input: [2, 5, 32],
  },
  { module: 'Linear', args: [6, 3], kwargs: {}, build: () => new nn.Linear(6, 3), input: [4, 6] },
  { module: 'LayerNorm', args: [6], kwargs: {}, build: () => new nn.LayerNorm(6), input: [4, 6] },
  // PyTorch's positional forms, built positionally on both sides.
  { module: 'Linear', args: [6, 3, false], kwargs: {}, build: () => new nn.Linear(6, 3, false), input: [4, 6] },
  { module: 'LayerNorm', args: [6, 0.5], kwargs: {}, build: () => new nn.LayerNorm(6, 0.5), input: [4, 6] },
  {
    module: 'TransformerEncoderLayer', args: [16, 4, 32, 0.0, 'gelu', 1e-3, true, true], kwargs: {},
    build: () => new nn.TransformerEncoderLayer(16, 4, 32, 0, 'gelu', 1e-3, true, true), input: [2, 5, 16],
  },
];

for (const m of MODULES) {
  test(`a qkv ${m.module}(${m.args.join(', ')}) state dict loads into PyTorch (strict) and gives the same output`, { skip: !hasTorch() && 'python3-torch is not installed' }, () => {
    manualSeed(17);
    const mod = m.build().eval();
    // Perturb every parameter so the check is not passed by default init values.
    for (const p of mod.parameters()) nn.init.normal_(p, 0, 0.3);
    const x = randn(m.input);
    const y = mod.forward(x);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-rt-'));
    const file = path.join(dir, 'state.safetensors');
    io.saveFile(file, { ...mod.stateDict(), __input__: x, __output__: y.detach() }, {
      module: m.module, args: JSON.stringify(m.args), kwargs: JSON.stringify(m.kwargs),
    });
    const r = spawnSync(PYTHON, [script, file], { encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true });
    assert.equal(r.status, 0, `PyTorch check failed: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^OK/);
  });
}

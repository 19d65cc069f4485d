/**
 * Options of inspect (runWithCache, diagnose), the lab runners and the Trainer are checked: an
 * unknown key is an ArgumentError naming the nearest valid one instead of a silently ignored option.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { data, inspect, lab, manualSeed, models, randint, train, ArgumentError } from '../../src/index.js';

function refuses(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: Error) => e instanceof ArgumentError && re.test(e.message), `expected ArgumentError matching ${re}`);
}

const cfg = { vocabSize: 40, blockSize: 12, nLayer: 1, nHead: 2, nEmbd: 16 };

test('runWithCache and diagnose check their options', () => {
  manualSeed(0);
  const g = new models.GPT(cfg).eval();
  const idx = randint(40, [1, 5]);
  refuses(() => inspect.runWithCache(g, [idx], { keep_graph: true } as never), /runWithCache: unknown option "keep_graph" \(did you mean keepGraph\?\)/);
  refuses(() => inspect.runWithCache(g, idx as never), /args must be the array of forward's arguments/);
  refuses(() => inspect.diagnose(g, { sed: 1 } as never), /diagnose: unknown option "sed" \(did you mean seed\?\)/);
  assert.ok(inspect.diagnose(g, { seed: 1 }).length > 0);
});

test('lab runners check their options (runLab and each experiment)', () => {
  refuses(() => lab.runLab({ qiuck: true } as never), /runLab: unknown option "qiuck" \(did you mean quick\?\)/);
  refuses(() => lab.runLab({ only: 'init' } as never), /runLab: only must be an array of experiment names/);
  refuses(() => lab.runInit({ quick: true, seeed: 3 } as never), /runInit: unknown option "seeed" \(did you mean seed\?\)/);
  refuses(() => lab.runTying({ quick: 'yes' } as never), /runTying: quick must be true or false/);
});

test('Trainer checks its options', () => {
  const tok = data.CharTokenizer.fromText('abcdefgh ');
  const ids = Int32Array.from(tok.encode('abc defg hab cdef gh abcd efgh '.repeat(8)));
  const d = { train: ids, val: ids, tokenizer: tok } as unknown as data.TextData;
  const g = new models.GPT({ ...cfg, vocabSize: tok.vocabSize, blockSize: 8 });
  refuses(() => new train.Trainer(g, d, { batch_size: 4 } as never), /Trainer: unknown option "batch_size" \(did you mean batchSize\?\)/);
  refuses(() => new train.Trainer(g, d, { lr: -1 }), /Trainer: lr must be a finite number in \(0, 1\], got -1/);
  const t = new train.Trainer(g, d, { steps: 2, batchSize: 2, evalInterval: 2, evalBatches: 1, warmupSteps: 1 });
  t.run();
  assert.equal(t.step, 2);
});

/**
 * Problem 3 of DESIGN.md: a post-LN TransformerEncoderLayer over d_model = 2 outputs only ±1.
 * Its last op is LayerNorm over two features: (x − mean)/std of two numbers is always ±(1, −1),
 * so every token collapses to one of two points whatever the weights or input. Pre-LN adds the
 * blocks to the residual stream and keeps the input's information. Both match PyTorch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, nn, randn } from '../../src/index.js';
import { loadFixture } from '../helpers/assert.js';

const { tensors: fx } = loadFixture('nn.safetensors');
const distinct = (a: ArrayLike<number>) => new Set(Array.from(a, (v) => v.toFixed(3))).size;

test('post-LN, d_model 2: every output is ±1 (to 1e-3), in qkv and in PyTorch', () => {
  manualSeed(0);
  for (const training of [false, true]) {
    const layer = new nn.TransformerEncoderLayer(2, 2).train(training);
    const y = layer.forward(randn([7, 4, 2]).mul(5)).toFlat();
    for (const v of y) assert.ok(Math.abs(Math.abs(v) - 1) < 1e-3, `output ${v} is not ±1 (training ${training})`);
    // The two features of a token are opposite: (1, −1) or (−1, 1).
    for (let i = 0; i < y.length; i += 2) assert.ok(Math.abs(y[i] + y[i + 1]) < 1e-3);
  }
  for (const v of fx['tel_post_d2.out0'].toFlat()) assert.ok(Math.abs(Math.abs(v) - 1) < 1e-3, `PyTorch output ${v}`);
});

test('pre-LN, d_model 2: outputs keep many distinct values, in qkv and in PyTorch', () => {
  manualSeed(1);
  const layer = new nn.TransformerEncoderLayer(2, 2, { normFirst: true }).eval();
  const y = layer.forward(randn([7, 4, 2])).toFlat();
  assert.ok(distinct(y) > 40, `only ${distinct(y)} distinct values`);
  assert.ok(distinct(fx['tel_pre_d2.out0'].toFlat()) > 20);
  const post = fx['tel_post_d2.out0'].toFlat();
  assert.equal(distinct(post), 2);
});

test('the collapse is structural: LayerNorm(2) alone maps any pair to ±(1, −1)', () => {
  manualSeed(2);
  const y = new nn.LayerNorm(2).forward(randn([1000, 2]).mul(100)).toFlat();
  assert.equal(distinct(y), 2);
});

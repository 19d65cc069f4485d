/** The qkv side of the nn cases in scripts/fixtures/nn.py (NN_CASES), name for name. */
import { nn } from '../../src/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const E = 8, H = 2;
type Out = Tensor | (Tensor | null)[];
type Case = { build: () => nn.Module; forward?: (m: nn.Module, ...x: Tensor[]) => Out };
const call = (m: nn.Module, ...x: Tensor[]): Out => m.forward(...x);
const mha = (m: nn.Module) => m as nn.MultiheadAttention;

export const NN_CASES: Record<string, Case> = {
  linear: { build: () => new nn.Linear(5, 3) },
  linear_nobias: { build: () => new nn.Linear(5, 3, { bias: false }) },
  embedding_padding: { build: () => new nn.Embedding(10, 4, { paddingIdx: 1 }) },
  layernorm: { build: () => new nn.LayerNorm(6) },
  layernorm_noaffine_2d: { build: () => new nn.LayerNorm([2, 3], { elementwiseAffine: false, eps: 1e-3 }) },
  sequential_activations: {
    build: () => new nn.Sequential(
      new nn.Linear(4, 6), new nn.GELU('tanh'), new nn.Linear(6, 6), new nn.Tanh(),
      new nn.Linear(6, 5), new nn.Sigmoid(), new nn.Linear(5, 5), new nn.GELU(), new nn.Linear(5, 3),
      new nn.ReLU(), new nn.Identity(), new nn.Softmax(-1),
    ),
  },
  mha_self_weights: { build: () => new nn.MultiheadAttention(E, H) },
  mha_cross_batch_first_kpm_per_head: {
    build: () => new nn.MultiheadAttention(E, H, { batchFirst: true }),
    forward: (m, q, k, v, kpm) => mha(m).forward(q, k, v, { keyPaddingMask: kpm, averageAttnWeights: false }),
  },
  mha_bool_causal_no_weights: {
    build: () => new nn.MultiheadAttention(E, H),
    // PyTorch got an explicit triu(1) bool mask; qkv builds the same mask from isCausal.
    forward: (m, q, k, v) => mha(m).forward(q, k, v, { isCausal: true, needWeights: false }),
  },
  mha_float_mask_and_kpm: {
    build: () => new nn.MultiheadAttention(E, H, { batchFirst: true }),
    forward: (m, q, k, v, am, kpm) => mha(m).forward(q, k, v, { attnMask: am, keyPaddingMask: kpm }),
  },
  mha_3d_bool_mask: {
    build: () => new nn.MultiheadAttention(E, H, { batchFirst: true }),
    forward: (m, q, k, v, am) => mha(m).forward(q, k, v, { attnMask: am }),
  },
  mha_kdim_vdim_nobias: { build: () => new nn.MultiheadAttention(E, H, { kdim: 6, vdim: 7, bias: false, batchFirst: true }) },
  mha_unbatched: { build: () => new nn.MultiheadAttention(E, H) },
  mha_float_kpm: {
    build: () => new nn.MultiheadAttention(E, H, { batchFirst: true }),
    forward: (m, q, k, v, kpm) => mha(m).forward(q, k, v, { keyPaddingMask: kpm }),
  },
  tel_post_d2: { build: () => new nn.TransformerEncoderLayer(2, 2) },
  tel_pre_d2: { build: () => new nn.TransformerEncoderLayer(2, 2, { normFirst: true }) },
  tel_post_d64_masks: {
    build: () => new nn.TransformerEncoderLayer(64, 4, { dimFeedforward: 128, batchFirst: true }),
    forward: (m, x, sm, kpm) => (m as nn.TransformerEncoderLayer).forward(x, { srcMask: sm, srcKeyPaddingMask: kpm }),
  },
  tel_pre_d64_gelu: {
    build: () => new nn.TransformerEncoderLayer(64, 4, { dimFeedforward: 128, activation: 'gelu', batchFirst: true, normFirst: true }),
  },
  encoder_stack_norm: {
    build: () => new nn.TransformerEncoder(
      new nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 32, batchFirst: true, normFirst: true }), 2,
      { norm: new nn.LayerNorm(16) },
    ),
  },
  cross_entropy_loss_module: { build: () => new nn.CrossEntropyLoss({ ignoreIndex: 2, labelSmoothing: 0.05 }) },
  mse_loss_module_sum: { build: () => new nn.MSELoss({ reduction: 'sum' }) },
};

export function runCase(name: string, m: nn.Module, inputs: Tensor[]): (Tensor | null)[] {
  const c = NN_CASES[name];
  const out = c.forward ? c.forward(m, ...inputs) : call(m, ...inputs);
  return Array.isArray(out) ? out : [out];
}

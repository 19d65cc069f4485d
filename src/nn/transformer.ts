/** TransformerEncoderLayer (post-LN or pre-LN) and TransformerEncoder, as torch.nn. */
import { DEVICE, callOptions, checkBool, checkCount, checkNumber } from '../options.js';
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { DType } from '../dtype.js';
import { Module } from './module.js';
import { Linear } from './linear.js';
import { LayerNorm } from './normalization.js';
import { Dropout } from './activation.js';
import { ModuleList } from './container.js';
import { MultiheadAttention } from './multihead-attention.js';
import { deepCopy } from './copy.js';

export type Activation = 'relu' | 'gelu' | ((x: Tensor) => Tensor);

export interface TransformerEncoderLayerOptions {
  dimFeedforward?: number;
  dropout?: number;
  activation?: Activation;
  layerNormEps?: number;
  batchFirst?: boolean;
  /** Pre-LN (x + sa(norm1(x))) when true; post-LN (norm1(x + sa(x))) when false, the default. */
  normFirst?: boolean;
  bias?: boolean;
  dtype?: DType;
}

const FORWARD_KEYS = ['srcMask', 'srcKeyPaddingMask', 'isCausal'] as const;

export interface EncoderForwardOptions {
  /** Attention mask (L, L) or (B·H, L, L): bool true = not allowed; float = added. */
  srcMask?: Tensor | null;
  /** (B, L): bool true = padding, ignored as a key. */
  srcKeyPaddingMask?: Tensor | null;
  /** Causal self-attention (qkv builds the mask when srcMask is not given). */
  isCausal?: boolean;
}

/**
 * One encoder layer: self-attention and a feed-forward block, each with a residual connection
 * and a LayerNorm — after the residual (post-LN, the 2017 default) or before the block
 * (pre-LN, `normFirst: true`).
 *
 *   post-LN: x = norm1(x + sa(x));  x = norm2(x + ff(x))
 *   pre-LN:  x = x + sa(norm1(x));  x = x + ff(norm2(x))
 *
 * With post-LN the layer's output is a LayerNorm output: over d_model = 2 features every token
 * becomes ±(1, −1)·weight + bias (problem 3 of DESIGN.md).
 *
 * Defaults as PyTorch: dimFeedforward 2048, dropout 0.1, relu, layerNormEps 1e-5, batchFirst
 * false, normFirst false, bias true — in an options object or positionally in PyTorch's order.
 * forward takes { srcMask, srcKeyPaddingMask, isCausal } or the same positionally (PyTorch's
 * `layer(src, mask, src_key_padding_mask)`).
 * Shape: src (L, B, E) [batchFirst: (B, L, E)] or (L, E) → same.
 */
export class TransformerEncoderLayer extends Module {
  declare self_attn: MultiheadAttention;
  declare linear1: Linear;
  declare dropout: Dropout;
  declare linear2: Linear;
  declare norm1: LayerNorm;
  declare norm2: LayerNorm;
  declare dropout1: Dropout;
  declare dropout2: Dropout;
  readonly normFirst: boolean;
  readonly activation: (x: Tensor) => Tensor;

  constructor(dModel: number, nhead: number, opts?: TransformerEncoderLayerOptions);
  constructor(dModel: number, nhead: number, dimFeedforward: number, dropout?: number, activation?: Activation, layerNormEps?: number, batchFirst?: boolean, normFirst?: boolean, bias?: boolean, opts?: TransformerEncoderLayerOptions);
  constructor(readonly dModel: number, readonly nhead: number, ...rest: unknown[]) {
    super();
    const where = 'nn.TransformerEncoderLayer';
    const keys = ['dimFeedforward', 'dropout', 'activation', 'layerNormEps', 'batchFirst', 'normFirst', 'bias'];
    const {
      dimFeedforward = 2048, dropout = 0.1, activation = 'relu', layerNormEps = 1e-5,
      batchFirst = false, normFirst = false, bias = true, dtype = 'float32',
    } = callOptions<TransformerEncoderLayerOptions>(where, rest, keys, [...keys, 'dtype'], { device: DEVICE });
    checkCount(dimFeedforward, 'dimFeedforward', where);
    checkNumber(dropout, 'dropout', where, 0, 1);
    checkNumber(layerNormEps, 'layerNormEps', where, 0);
    for (const [k, v] of [['batchFirst', batchFirst], ['normFirst', normFirst], ['bias', bias]] as const) checkBool(v, k, where);
    this.normFirst = normFirst;
    if (activation === 'relu') this.activation = (x) => x.relu();
    else if (activation === 'gelu') this.activation = (x) => x.gelu();
    else if (typeof activation === 'function') this.activation = activation;
    else throw new ArgumentError(`TransformerEncoderLayer: activation should be 'relu', 'gelu' or a function, not ${JSON.stringify(activation)}`);
    this.registerModule('self_attn', new MultiheadAttention(dModel, nhead, { dropout, bias, batchFirst, dtype }));
    this.registerModule('linear1', new Linear(dModel, dimFeedforward, { bias, dtype }));
    this.registerModule('dropout', new Dropout(dropout));
    this.registerModule('linear2', new Linear(dimFeedforward, dModel, { bias, dtype }));
    this.registerModule('norm1', new LayerNorm(dModel, { eps: layerNormEps, bias, dtype }));
    this.registerModule('norm2', new LayerNorm(dModel, { eps: layerNormEps, bias, dtype }));
    this.registerModule('dropout1', new Dropout(dropout));
    this.registerModule('dropout2', new Dropout(dropout));
  }

  override forward(src: Tensor, opts?: EncoderForwardOptions): Tensor;
  override forward(src: Tensor, srcMask: Tensor | null, srcKeyPaddingMask?: Tensor | null, isCausal?: boolean): Tensor;
  override forward(src: Tensor, ...rest: unknown[]): Tensor {
    const opts = callOptions<EncoderForwardOptions>('TransformerEncoderLayer.forward', rest, FORWARD_KEYS, FORWARD_KEYS);
    let x = src;
    if (this.normFirst) {
      x = x.add(this.saBlock(this.norm1.forward(x), opts));
      x = x.add(this.ffBlock(this.norm2.forward(x)));
    } else {
      x = this.norm1.forward(x.add(this.saBlock(x, opts)));
      x = this.norm2.forward(x.add(this.ffBlock(x)));
    }
    return x;
  }

  private saBlock(x: Tensor, opts: EncoderForwardOptions): Tensor {
    const [y] = this.self_attn.forward(x, x, x, {
      attnMask: opts.srcMask, keyPaddingMask: opts.srcKeyPaddingMask, isCausal: opts.isCausal, needWeights: false,
    });
    return this.dropout1.forward(y);
  }

  private ffBlock(x: Tensor): Tensor {
    return this.dropout2.forward(this.linear2.forward(this.dropout.forward(this.activation(this.linear1.forward(x)))));
  }
}

/**
 * A stack of `numLayers` deep copies of `encoderLayer` (identical initial weights, as PyTorch's
 * deepcopy), and an optional final norm (none by default): `{ norm }` or positionally.
 * PyTorch's enableNestedTensor and maskCheck (a speed path and an input check, with the same
 * results) are accepted and change nothing.
 */
export class TransformerEncoder extends Module {
  declare layers: ModuleList<TransformerEncoderLayer>;
  declare norm: Module | null;

  constructor(encoderLayer: TransformerEncoderLayer, numLayers: number, opts?: { norm?: Module | null });
  constructor(encoderLayer: TransformerEncoderLayer, numLayers: number, norm: Module | null, opts?: { enableNestedTensor?: boolean; maskCheck?: boolean });
  constructor(encoderLayer: TransformerEncoderLayer, readonly numLayers: number, ...rest: unknown[]) {
    super();
    const where = 'nn.TransformerEncoder';
    const { norm = null } = callOptions<{ norm?: Module | null }>(where, rest, ['norm', 'enableNestedTensor', 'maskCheck'], ['norm'], {
      enableNestedTensor: { torch: 'enable_nested_tensor', ok: (v) => v === undefined || typeof v === 'boolean' },
      maskCheck: { torch: 'mask_check', ok: (v) => v === undefined || typeof v === 'boolean' },
    });
    if (!(encoderLayer instanceof Module)) throw new ArgumentError(`${where}: encoderLayer must be an nn.Module (a TransformerEncoderLayer), got ${typeof encoderLayer}`);
    checkCount(numLayers, 'numLayers', where, false);
    if (norm !== null && !(norm instanceof Module)) throw new ArgumentError(`${where}: norm must be an nn.Module or null`);
    this.registerModule('layers', new ModuleList(Array.from({ length: numLayers }, () => deepCopy(encoderLayer))));
    this.registerModule('norm', norm);
  }

  override forward(src: Tensor, opts?: EncoderForwardOptions): Tensor;
  override forward(src: Tensor, mask: Tensor | null, srcKeyPaddingMask?: Tensor | null, isCausal?: boolean): Tensor;
  override forward(src: Tensor, ...rest: unknown[]): Tensor {
    const opts = callOptions<EncoderForwardOptions>('TransformerEncoder.forward', rest, FORWARD_KEYS, FORWARD_KEYS);
    let x = src;
    for (const layer of this.layers) x = layer.forward(x, opts);
    return this.norm ? this.norm.forward(x) : x;
  }
}

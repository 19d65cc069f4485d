/** Loss modules: MSELoss and CrossEntropyLoss (the functional forms are F.mseLoss and F.crossEntropy). */
import { Tensor } from '../tensor/tensor.js';
import { crossEntropy, mseLoss, type CrossEntropyOptions, type Reduction } from '../ops/loss.js';
import { ArgumentError } from '../errors.js';
import { checkOptions, checkNumber, isOptionsObject } from '../options.js';
import { Module, pyRepr } from './module.js';

const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];

function checkReduction(r: unknown, where: string): Reduction {
  if (!REDUCTIONS.includes(r as Reduction)) throw new ArgumentError(`${where}: reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(r)}`);
  return r as Reduction;
}

/** The options object of a loss constructor; PyTorch's positional size_average/reduce (deprecated) are refused. */
function lossOptions<T extends object>(opts: unknown, valid: readonly string[], where: string): T {
  if (opts instanceof Tensor) throw new ArgumentError(`${where}: class weights (PyTorch's weight) are not supported`);
  if (opts !== undefined && !isOptionsObject(opts)) {
    throw new ArgumentError(`${where}: takes an options object { ${valid.join(', ')} }, got ${JSON.stringify(opts) ?? typeof opts} (PyTorch's positional size_average/reduce are deprecated there; use { reduction })`);
  }
  return checkOptions(opts as T | undefined, valid, where);
}

/** Mean (or sum, or per-element) squared error; `{ reduction }` as PyTorch's MSELoss. */
export class MSELoss extends Module {
  readonly reduction: Reduction;

  constructor(opts: { reduction?: Reduction } = {}) {
    super();
    const o = lossOptions<{ reduction?: Reduction }>(opts, ['reduction'], 'nn.MSELoss');
    this.reduction = checkReduction(o.reduction ?? 'mean', 'nn.MSELoss');
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, { reduction: this.reduction });
  }
}

/** Cross-entropy of logits against class indices or probabilities (ignoreIndex −100, mean, no smoothing by default). */
export class CrossEntropyLoss extends Module {
  readonly opts: Required<CrossEntropyOptions>;

  constructor(opts: CrossEntropyOptions = {}) {
    super();
    const where = 'nn.CrossEntropyLoss';
    const o = lossOptions<CrossEntropyOptions>(opts, ['ignoreIndex', 'reduction', 'labelSmoothing'], where);
    const ignoreIndex = o.ignoreIndex ?? -100;
    if (!Number.isInteger(ignoreIndex)) throw new ArgumentError(`${where}: ignoreIndex must be an integer, got ${JSON.stringify(ignoreIndex)}`);
    checkNumber(o.labelSmoothing, 'labelSmoothing', where, 0, 1);
    this.opts = { ignoreIndex, reduction: checkReduction(o.reduction ?? 'mean', where), labelSmoothing: o.labelSmoothing ?? 0 };
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, this.opts);
  }

  override extraRepr(): string {
    return this.opts.labelSmoothing ? `label_smoothing=${pyRepr(this.opts.labelSmoothing)}` : '';
  }
}

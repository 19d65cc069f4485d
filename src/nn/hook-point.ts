/**
 * HookPoint: an identity module placed where an activation is worth observing or editing
 * (TransformerLens's design). A forward hook on it sees the activation and may replace it;
 * runWithCache (inspect/) records every hook point by its module path.
 */
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

export class HookPoint extends Module {
  /** Hook points are left out of a parent's printed repr. */
  static readonly isHookPoint = true;

  override forward(x: Tensor): Tensor {
    return x;
  }
}

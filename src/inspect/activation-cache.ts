/**
 * runWithCache: run a model and record every HookPoint's activation by its module path
 * (TransformerLens's run_with_cache). For models.GPT the names are
 *
 *   hook_embed, hook_pos_embed                                  (B, T, C)
 *   transformer.h.{i}.hook_resid_pre / _mid / _post              (B, T, C) the residual stream
 *   transformer.h.{i}.attn.hook_q / hook_k / hook_v / hook_z     (B, T, H, D) per head
 *   transformer.h.{i}.attn.hook_attn_scores / hook_pattern       (B, H, T, S)
 *   transformer.h.{i}.hook_attn_out, hook_mlp_out                (B, T, C)
 *   transformer.h.{i}.mlp.hook_pre / hook_post                   (B, T, 4C)
 *
 * and TransformerLens spellings (`blocks.0.attn.hook_pattern`) are accepted by `get`.
 */
import { ArgumentError } from '../errors.js';
import { checkOptions } from '../options.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from '../nn/module.js';
import { HookPoint } from '../nn/hook-point.js';

export class ActivationCache {
  constructor(private readonly store: Map<string, Tensor>) {}

  /** Names recorded, in the order the forward reached them. */
  keys(): string[] {
    return [...this.store.keys()];
  }

  has(name: string): boolean {
    return this.resolve(name) !== null;
  }

  get(name: string): Tensor {
    const key = this.resolve(name);
    if (key === null) {
      throw new ArgumentError(`ActivationCache: no activation named ${JSON.stringify(name)}; recorded: ${this.keys().slice(0, 12).join(', ')}${this.store.size > 12 ? ', …' : ''}`);
    }
    return this.store.get(key)!;
  }

  /** The residual stream entering block `layer` ('pre'), between attention and MLP ('mid'), or leaving it ('post'). */
  resid(layer: number, at: 'pre' | 'mid' | 'post' = 'pre'): Tensor {
    return this.get(`blocks.${layer}.hook_resid_${at}`);
  }

  /** Attention pattern of block `layer`, (B, H, T, S). */
  pattern(layer: number): Tensor {
    return this.get(`blocks.${layer}.attn.hook_pattern`);
  }

  private resolve(name: string): string | null {
    if (this.store.has(name)) return name;
    // TransformerLens names: blocks.{i}. → transformer.h.{i}.
    const alias = name.replace(/^blocks\.(\d+)\./, 'transformer.h.$1.');
    if (this.store.has(alias)) return alias;
    for (const k of this.store.keys()) if (k.endsWith(`.${name}`) || k.endsWith(`.${alias}`)) return k;
    return null;
  }
}

export interface RunWithCacheOptions {
  /** Record only these hook points (exact names or a predicate). Default: all. */
  names?: readonly string[] | ((name: string) => boolean);
  /** Keep the graph through cached activations (default false: they are detached). */
  keepGraph?: boolean;
}

/** Runs `model.forward(...args)` with every (selected) HookPoint recording; returns the output and the cache. */
export function runWithCache<M extends Module>(
  model: M, args: Parameters<M['forward']>, opts: RunWithCacheOptions = {},
): { output: ReturnType<M['forward']>; cache: ActivationCache } {
  checkOptions(opts, ['names', 'keepGraph'], 'runWithCache');
  if (!(model instanceof Module)) throw new ArgumentError(`runWithCache: the model must be an nn.Module, got ${typeof model}`);
  if (!Array.isArray(args)) throw new ArgumentError('runWithCache: args must be the array of forward\'s arguments ([idx])');
  const store = new Map<string, Tensor>();
  const wanted = opts.names === undefined ? () => true : typeof opts.names === 'function' ? opts.names : (n: string) => (opts.names as readonly string[]).includes(n);
  const handles: { remove(): void }[] = [];
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof HookPoint) || !wanted(name)) continue;
    handles.push(m.registerForwardHook((_mod, _args, out) => {
      const t = out as Tensor;
      store.set(name, opts.keepGraph ? t : t.detach());
    }));
  }
  try {
    const output: ReturnType<M['forward']> = model.forward(...args);
    return { output, cache: new ActivationCache(store) };
  } finally {
    for (const h of handles) h.remove();
  }
}

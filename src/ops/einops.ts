/**
 * einops' rearrange, reduce and repeat (the notation vit-pytorch and most attention code use):
 *
 *   rearrange(qkv, 'b n (h d) -> b h n d', { h: 8 })   split heads
 *   reduce(x, 'b c (h 2) (w 2) -> b c h w', 'max')     2×2 max-pool
 *   repeat(cls, '() n d -> b n d', { b: 4 })           broadcast a token over the batch
 *
 * A pattern names each dim of the input on the left and of the output on the right. `(a b)` is
 * one dim made of two axes (row-major, a outer), `1` or `()` a unit dim, `...` any number of
 * dims. Sizes come from the input and from `axes` (at most one unknown per group). rearrange
 * keeps the same axes; reduce drops the axes missing on the right with the reduction; repeat
 * adds axes that appear only on the right (sizes from `axes`, or a number in the pattern). Each
 * lowers to reshape, permute, expand and reductions — views where the layout allows, with
 * gradients.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { cumprod } from './cumulative.js';
import { expand, permute, reshape, select } from './shape.js';
import { max, mean, min, sum } from './reduce.js';

type Axis = { name: string } | { size: number }; // a named axis, or an anonymous one of fixed size (`(h 2)`)
type Element = { group: Axis[] } | { ellipsis: true };

const ELLIPSIS = '…';

function parseSide(text: string, pattern: string, side: 'left' | 'right'): Element[] {
  const out: Element[] = [];
  const tokens = text.replace(/\(/g, ' ( ').replace(/\)/g, ' ) ').trim().split(/\s+/).filter((t) => t !== '');
  let group: Axis[] | null = null;
  for (const tok of tokens) {
    if (tok === '(') {
      if (group) throw new ArgumentError(`einops: nested parentheses in ${JSON.stringify(pattern)}`);
      group = [];
    } else if (tok === ')') {
      if (!group) throw new ArgumentError(`einops: unbalanced ')' in ${JSON.stringify(pattern)}`);
      out.push({ group });
      group = null;
    } else if (tok === '...') {
      if (group) throw new ArgumentError(`einops: '...' inside parentheses is not supported in ${JSON.stringify(pattern)}`);
      if (out.some((e) => 'ellipsis' in e)) throw new ArgumentError(`einops: more than one '...' on the ${side} of ${JSON.stringify(pattern)}`);
      out.push({ ellipsis: true });
    } else if (/^\d+$/.test(tok)) {
      const n = Number(tok);
      if (n === 0) throw new ArgumentError(`einops: an axis of size 0 in ${JSON.stringify(pattern)}`);
      const axis: Axis | null = n === 1 ? null : { size: n };
      if (group) {
        if (axis) group.push(axis);
      } else {
        out.push({ group: axis ? [axis] : [] });
      }
    } else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(tok)) {
      if (group) group.push({ name: tok });
      else out.push({ group: [{ name: tok }] });
    } else {
      throw new ArgumentError(`einops: invalid token ${JSON.stringify(tok)} in ${JSON.stringify(pattern)}; axis names are identifiers`);
    }
  }
  if (group) throw new ArgumentError(`einops: unbalanced '(' in ${JSON.stringify(pattern)}`);
  const names = out.flatMap((e) => ('group' in e ? e.group.flatMap((a) => ('name' in a ? [a.name] : [])) : []));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new ArgumentError(`einops: axis ${dup} appears twice on the ${side} of ${JSON.stringify(pattern)}`);
  return out;
}

interface Plan {
  /** The input split into elementary axes (names; ellipsis dims named …0, …1, …). */
  inAxes: string[];
  inSizes: number[];
  right: Element[];
  sizes: Map<string, number>;
  ellipsisNames: string[];
}

function planLeft(x: Tensor, left: Element[], axes: Record<string, number>, pattern: string): Plan {
  const hasEllipsis = left.some((e) => 'ellipsis' in e);
  const fixed = left.length - (hasEllipsis ? 1 : 0);
  if (hasEllipsis ? x.ndim < fixed : x.ndim !== fixed) {
    throw new ShapeError(`einops: the left of ${JSON.stringify(pattern)} describes ${fixed}${hasEllipsis ? '+' : ''} dims, the input has shape ${fmtShape(x.shape)}`);
  }
  const sizes = new Map<string, number>();
  for (const [k, v] of Object.entries(axes)) {
    if (!Number.isInteger(v) || v <= 0) throw new ArgumentError(`einops: axis ${k} must have a positive integer size, got ${v}`);
    sizes.set(k, v);
  }
  const inAxes: string[] = [];
  const inSizes: number[] = [];
  const ellipsisNames: string[] = [];
  let d = 0;
  let anonymousLeft = 0;
  for (const e of left) {
    if ('ellipsis' in e) {
      for (let k = 0; k < x.ndim - fixed; k++) {
        const n = `${ELLIPSIS}${k}`;
        ellipsisNames.push(n);
        inAxes.push(n);
        inSizes.push(x.shape[d]);
        sizes.set(n, x.shape[d++]);
      }
      continue;
    }
    const dim = x.shape[d++];
    const names = e.group.map((a) => {
      if ('name' in a) return a.name;
      const n = `#L${anonymousLeft++}`; // an anonymous axis of the input: reduced away (reduce only)
      sizes.set(n, a.size);
      return n;
    });
    const unknown = names.filter((n) => !sizes.has(n));
    const known = names.filter((n) => sizes.has(n)).reduce((p, n) => p * sizes.get(n)!, 1);
    if (unknown.length > 1) {
      throw new ArgumentError(`einops: cannot infer the sizes of ${unknown.join(' and ')} in ${JSON.stringify(pattern)}: pass all but one in the axes object`);
    }
    if (unknown.length === 1) {
      if (known === 0 || dim % known !== 0) throw new ShapeError(`einops: dim ${d - 1} of size ${dim} cannot be split into (${names.join(' ')}) with known sizes multiplying to ${known}`);
      sizes.set(unknown[0], dim / known);
    } else if (known !== dim) {
      throw new ShapeError(`einops: dim ${d - 1} has size ${dim} but (${names.join(' ')}) multiply to ${known} in ${JSON.stringify(pattern)}`);
    }
    for (const n of names) {
      inAxes.push(n);
      inSizes.push(sizes.get(n)!);
    }
  }
  return { inAxes, inSizes, right: [], sizes, ellipsisNames };
}

/** The right side as elementary axes (names, or `#k` for anonymous sizes) and the final shape. */
function planRight(p: Plan, right: Element[], pattern: string): { outAxes: string[]; outShape: number[]; anonymous: Map<string, number> } {
  const outAxes: string[] = [];
  const outShape: number[] = [];
  const anonymous = new Map<string, number>();
  for (const e of right) {
    if ('ellipsis' in e) {
      for (const n of p.ellipsisNames) {
        outAxes.push(n);
        outShape.push(p.sizes.get(n)!);
      }
      continue;
    }
    let size = 1;
    for (const a of e.group) {
      if ('size' in a) {
        const n = `#${anonymous.size}`;
        anonymous.set(n, a.size);
        outAxes.push(n);
        size *= a.size;
      } else {
        if (!p.sizes.has(a.name)) throw new ArgumentError(`einops: the size of new axis ${a.name} in ${JSON.stringify(pattern)} is unknown: pass it, e.g. { ${a.name}: 4 }`);
        outAxes.push(a.name);
        size *= p.sizes.get(a.name)!;
      }
    }
    outShape.push(size);
  }
  return { outAxes, outShape, anonymous };
}

function parse(pattern: string): [Element[], Element[]] {
  if (typeof pattern !== 'string') throw new ArgumentError(`einops: the pattern must be a string like 'b n (h d) -> b h n d', got ${typeof pattern}`);
  const parts = pattern.split('->');
  if (parts.length !== 2) throw new ArgumentError(`einops: the pattern must have exactly one '->', got ${JSON.stringify(pattern)}`);
  const left = parseSide(parts[0], pattern, 'left');
  const right = parseSide(parts[1], pattern, 'right');
  if (left.some((e) => 'ellipsis' in e) !== right.some((e) => 'ellipsis' in e)) {
    throw new ArgumentError(`einops: '...' must appear on both sides of ${JSON.stringify(pattern)} or on neither`);
  }
  return [left, right];
}

function namesOf(side: Element[]): string[] {
  return side.flatMap((e) => ('group' in e ? e.group.flatMap((a) => ('name' in a ? [a.name] : [])) : []));
}

function checkAxes(axes: Record<string, number>, allowed: string[], pattern: string): void {
  if (axes === null || typeof axes !== 'object' || Array.isArray(axes)) throw new ArgumentError(`einops: axis sizes must be an object like { h: 8 }`);
  for (const k of Object.keys(axes)) {
    if (!allowed.includes(k)) throw new ArgumentError(`einops: axis ${k} given a size but not in ${JSON.stringify(pattern)}`);
  }
}

export type Reduction = 'mean' | 'sum' | 'max' | 'min' | 'prod';
const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'max', 'min', 'prod'];

function core(x: Tensor, pattern: string, axes: Record<string, number>, kind: 'rearrange' | 'reduce' | 'repeat', reduction?: Reduction): Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentError(`einops.${kind}: the first argument must be a Tensor`);
  const [left, right] = parse(pattern);
  const ln = namesOf(left), rn = namesOf(right);
  checkAxes(axes, [...new Set([...ln, ...rn])], pattern);
  const onlyLeft = ln.filter((n) => !rn.includes(n)), onlyRight = rn.filter((n) => !ln.includes(n));
  const anonRight = right.some((e) => 'group' in e && e.group.some((a) => 'size' in a));
  if (kind === 'rearrange' && (onlyLeft.length || onlyRight.length || anonRight)) {
    throw new ArgumentError(`einops.rearrange: ${JSON.stringify(pattern)} must use the same axes on both sides (only left: ${onlyLeft.join(' ') || '-'}; only right: ${onlyRight.join(' ') || '-'}); use reduce or repeat`);
  }
  if (kind === 'reduce' && (onlyRight.length || anonRight)) {
    throw new ArgumentError(`einops.reduce: new axes on the right of ${JSON.stringify(pattern)} (${onlyRight.join(' ') || 'a number'}); reduce can only remove axes`);
  }
  if (kind === 'repeat' && onlyLeft.length) {
    throw new ArgumentError(`einops.repeat: axes ${onlyLeft.join(' ')} on the left of ${JSON.stringify(pattern)} are missing on the right; repeat can only add axes`);
  }
  const anonLeft = left.some((e) => 'group' in e && e.group.some((a) => 'size' in a));
  if (anonLeft && kind !== 'reduce') {
    throw new ArgumentError(`einops.${kind}: a number other than 1 on the left of ${JSON.stringify(pattern)} (only reduce can drop an anonymous axis)`);
  }
  const p = planLeft(x, left, axes, pattern);
  let t = reshape(x, p.inSizes); // one dim per elementary axis
  let axesNow = p.inAxes.slice();
  const dropped = [...onlyLeft, ...axesNow.filter((n) => n.startsWith('#L'))];
  if (kind === 'reduce' && dropped.length) {
    t = reduceDims(t, dropped.map((n) => axesNow.indexOf(n)), reduction!, pattern);
    axesNow = axesNow.filter((n) => !dropped.includes(n));
  }
  const { outAxes, outShape, anonymous } = planRight(p, right, pattern);
  // Order the existing axes as the output wants them, then add the new ones as broadcast dims.
  const existing = outAxes.filter((n) => axesNow.includes(n));
  t = permute(t, existing.map((n) => axesNow.indexOf(n)));
  if (existing.length !== outAxes.length) {
    const withUnits = outAxes.map((n) => (existing.includes(n) ? p.sizes.get(n)! : 1));
    t = reshape(t, withUnits);
    t = expand(t, outAxes.map((n) => p.sizes.get(n) ?? anonymous.get(n)!));
  }
  return reshape(t, outShape);
}

function reduceDims(t: Tensor, dims: number[], reduction: Reduction, pattern: string): Tensor {
  switch (reduction) {
    case 'mean': return mean(t, dims);
    case 'sum': return sum(t, dims);
    case 'max': return max(t, dims);
    case 'min': return min(t, dims);
    case 'prod': {
      // Move the reduced dims last, flatten them, and take the last running product.
      const keep = t.shape.map((_, i) => i).filter((i) => !dims.includes(i));
      const moved = permute(t, [...keep, ...dims]);
      const flat = reshape(moved, [...keep.map((i) => t.shape[i]), -1]);
      const n = flat.shape[flat.ndim - 1];
      if (n === 0) return Tensor.ones(keep.map((i) => t.shape[i]), t.dtype);
      return select(cumprod(flat, -1), -1, n - 1);
    }
    default:
      throw new ArgumentError(`einops.reduce: unknown reduction ${JSON.stringify(reduction)} for ${JSON.stringify(pattern)}; use one of ${REDUCTIONS.join(', ')}`);
  }
}

/** Reorders, splits and merges dims by pattern (einops.rearrange). */
export function rearrange(x: Tensor, pattern: string, axes: Record<string, number> = {}): Tensor {
  return core(x, pattern, axes, 'rearrange');
}

/** rearrange plus a reduction over the axes missing on the right (einops.reduce). */
export function reduce(x: Tensor, pattern: string, reduction: Reduction, axes: Record<string, number> = {}): Tensor {
  if (!REDUCTIONS.includes(reduction)) throw new ArgumentError(`einops.reduce: unknown reduction ${JSON.stringify(reduction)}; use one of ${REDUCTIONS.join(', ')}`);
  return core(x, pattern, axes, 'reduce', reduction);
}

/** rearrange plus new axes that appear only on the right, broadcast (einops.repeat). */
export function repeat(x: Tensor, pattern: string, axes: Record<string, number> = {}): Tensor {
  return core(x, pattern, axes, 'repeat');
}

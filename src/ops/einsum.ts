/**
 * einsum (torch.einsum): Einstein summation over labelled dims, lowered to views, sums and
 * batched matrix products, so it runs on every backend with the matmul kernel and has gradients
 * through the ops it is made of.
 *
 * Supported: any number of operands (contracted left to right, as PyTorch does without
 * opt_einsum), implicit output (no `->`: the labels that appear once, in alphabetical order),
 * `...` (broadcast dims, as in PyTorch), a label repeated within one operand (its diagonal:
 * `'ii->i'`, `'ii'` is the trace), labels summed away, and size-1 broadcasting of a label.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { matmul } from './matmul.js';
import { diagonal, expand, permute, reshape } from './shape.js';
import { sum } from './reduce.js';

/** An operand as a tensor whose dims each carry one label (no label repeated). */
interface Labelled {
  t: Tensor;
  labels: string[];
}

const ELLIPSIS_LABEL = (k: number): string => `…${k}`;

function parseTerm(term: string, ndim: number | null, where: string, ellipsisDims: number): string[] {
  const labels: string[] = [];
  let i = 0;
  let sawEllipsis = false;
  const letters = term.replace(/\s+/g, '');
  while (i < letters.length) {
    if (letters.startsWith('...', i)) {
      if (sawEllipsis) throw new ArgumentError(`einsum: ${where} has more than one ellipsis`);
      sawEllipsis = true;
      const n = ndim === null ? ellipsisDims : ndim - (letters.length - 3);
      if (n < 0) throw new ShapeError(`einsum: ${where} has more labels than dims (${ndim})`);
      for (let k = ellipsisDims - n; k < ellipsisDims; k++) labels.push(ELLIPSIS_LABEL(k));
      i += 3;
    } else if (/[a-zA-Z]/.test(letters[i])) {
      labels.push(letters[i++]);
    } else {
      throw new ArgumentError(`einsum: invalid character ${JSON.stringify(letters[i])} in ${where}; labels are letters a–z, A–Z and '...'`);
    }
  }
  if (ndim !== null && labels.length !== ndim) {
    throw new ShapeError(`einsum: ${where} has ${labels.length} labels but the operand has ${ndim} dims`);
  }
  return labels;
}

/** Takes the diagonal of every label repeated within one operand. */
function dedupe(t: Tensor, labels: string[]): Labelled {
  let cur = t;
  let ls = labels.slice();
  for (;;) {
    const dup = ls.findIndex((l, i) => ls.indexOf(l) !== i);
    if (dup < 0) return { t: cur, labels: ls };
    const first = ls.indexOf(ls[dup]);
    if (cur.shape[first] !== cur.shape[dup]) {
      throw new ShapeError(`einsum: label ${ls[dup]} repeated in one operand has sizes ${cur.shape[first]} and ${cur.shape[dup]}`);
    }
    cur = diagonal(cur, 0, first, dup); // the two dims removed, the diagonal appended last
    const label = ls[dup];
    ls = ls.filter((_, i) => i !== first && i !== dup);
    ls.push(label);
  }
}

/** Sums away the labels of `a` that nothing later needs. */
function sumOut(a: Labelled, keep: Set<string>): Labelled {
  const drop = a.labels.map((l, i) => (keep.has(l) ? -1 : i)).filter((i) => i >= 0);
  if (drop.length === 0) return a;
  return { t: sum(a.t, drop), labels: a.labels.filter((l) => keep.has(l)) };
}

/** Puts the dims in `order` (every label of a present), as a view. */
function arrange(a: Labelled, order: string[]): Tensor {
  return permute(a.t, order.map((l) => a.labels.indexOf(l)));
}

/** Contracts two operands into one carrying the labels in `keep` (batch, a-only, b-only). */
function contract(a: Labelled, b: Labelled, keep: Set<string>, sizes: Map<string, number>): Labelled {
  a = sumOut(a, new Set([...keep, ...b.labels]));
  b = sumOut(b, new Set([...keep, ...a.labels]));
  const batch = a.labels.filter((l) => b.labels.includes(l) && keep.has(l));
  const inner = a.labels.filter((l) => b.labels.includes(l) && !keep.has(l));
  const aOnly = a.labels.filter((l) => !b.labels.includes(l));
  const bOnly = b.labels.filter((l) => !a.labels.includes(l));
  const size = (ls: string[]): number => ls.reduce((p, l) => p * sizes.get(l)!, 1);
  // Broadcast size-1 dims of shared labels to the label's size (views).
  const grow = (x: Labelled): Labelled => ({ t: expand(x.t, x.labels.map((l) => sizes.get(l)!)), labels: x.labels });
  const A = reshape(arrange(grow(a), [...batch, ...aOnly, ...inner]), [size(batch), size(aOnly), size(inner)]); // (Bt, M, K)
  const B = reshape(arrange(grow(b), [...batch, ...inner, ...bOnly]), [size(batch), size(inner), size(bOnly)]); // (Bt, K, N)
  const C = matmul(A, B); // (Bt, M, N)
  const labels = [...batch, ...aOnly, ...bOnly];
  return { t: reshape(C, labels.map((l) => sizes.get(l)!)), labels };
}

/**
 * Einstein summation (torch.einsum). `einsum('bhqd,bhkd->bhqk', q, k)` is q·kᵀ per head;
 * `einsum('ij->', x)` sums everything; `einsum('...ij,...jk->...ik', a, b)` is a batched matmul.
 */
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  if (typeof equation !== 'string') throw new ArgumentError(`einsum: the first argument must be the equation string, got ${typeof equation}`);
  if (operands.length === 1 && Array.isArray(operands[0])) operands = operands[0] as unknown as Tensor[];
  if (operands.length === 0) throw new ArgumentError('einsum: needs at least one operand');
  const [lhs, rhs, ...extra] = equation.split('->');
  if (extra.length > 0) throw new ArgumentError(`einsum: ${JSON.stringify(equation)} has more than one '->'`);
  const terms = lhs.split(',');
  if (terms.length !== operands.length) {
    throw new ArgumentError(`einsum: ${JSON.stringify(equation)} names ${terms.length} operands but ${operands.length} were given`);
  }
  operands.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new ArgumentError(`einsum: operand ${i} is not a Tensor`);
  });
  // The number of broadcast dims the ellipsis stands for: the most any operand has.
  const ellipsisDims = Math.max(0, ...terms.map((term, i) => (term.includes('...') ? operands[i].ndim - (term.replace(/\s+/g, '').length - 3) : 0)));
  const parsed = terms.map((term, i) => parseTerm(term, operands[i].ndim, `operand ${i} ('${term.trim()}')`, ellipsisDims));

  const sizes = new Map<string, number>();
  parsed.forEach((labels, i) => labels.forEach((l, d) => {
    const s = operands[i].shape[d];
    const prev = sizes.get(l);
    if (prev === undefined || prev === 1) sizes.set(l, s);
    else if (s !== prev && s !== 1) {
      throw new ShapeError(`einsum: label ${l.startsWith('…') ? '...' : l} has size ${prev} in one operand and ${s} in operand ${i} (shape ${fmtShape(operands[i].shape)})`);
    }
  }));

  let output: string[];
  if (rhs === undefined) {
    const counts = new Map<string, number>();
    for (const labels of parsed) for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    const ell = [...counts.keys()].filter((l) => l.startsWith('…')).sort();
    output = [...ell, ...[...counts.keys()].filter((l) => !l.startsWith('…') && counts.get(l) === 1).sort()];
  } else {
    output = parseTerm(rhs, null, `the output ('${rhs.trim()}')`, ellipsisDims);
    const all = new Set(parsed.flat());
    for (const l of output) {
      if (!all.has(l)) throw new ArgumentError(`einsum: output label ${l} does not appear in any operand of ${JSON.stringify(equation)}`);
    }
    if (new Set(output).size !== output.length) throw new ArgumentError(`einsum: a label appears more than once in the output of ${JSON.stringify(equation)}`);
  }

  let acc = dedupe(operands[0], parsed[0]);
  for (let i = 1; i < operands.length; i++) {
    const later = new Set([...output, ...parsed.slice(i + 1).flat()]);
    acc = contract(acc, dedupe(operands[i], parsed[i]), later, sizes);
  }
  acc = sumOut(acc, new Set(output));
  const grown = expand(acc.t, acc.labels.map((l) => sizes.get(l)!));
  return permute(grown, output.map((l) => acc.labels.indexOf(l)));
}

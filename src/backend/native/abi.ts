/**
 * The call descriptor of the native ABI, as the TypeScript side writes it. native/abi.h is the
 * definition (read it for the layout); this is its mirror, and the addon exports its own copy
 * (`addon.abi`), which `loadNativeAddon` compares with this one: an addon built from another
 * layout is refused with a "rebuild" message instead of misreading its arguments.
 *
 * Per call: the typed arrays are the arguments, and META (one shared Float64Array of `metaLen`
 * slots, registered once) holds the call's scalars at its per-call slots, then one view record
 * per typed-array argument i at `viewBase + i·viewSize`: ndim, offset, shape[maxDims],
 * strides[maxDims] (a null argument's record is not read).
 */

/** The layout, key for key as QKV_ABI_TABLE in native/abi.h (JavaScript names). */
export const ABI = {
  version: 1,
  // the view record
  maxDims: 16,
  viewNdim: 0,
  viewOffset: 1,
  viewShape: 2,
  viewStrides: 18,
  viewSize: 34,
  // the call block
  argSlots: 8,
  viewBase: 8,
  maxViews: 10,
  metaLen: 348,
  // per-call scalar slots
  argOp: 0,
  argReduced: 1,
  argDim: 0,
  argLog: 1,
  argEps: 0,
  argIgnoreIndex: 0,
  argSmoothing: 1,
  argCausal: 0,
  argScale: 1,
  adamLr: 0,
  adamBeta1: 1,
  adamBeta2: 2,
  adamEps: 3,
  adamWeightDecay: 4,
  adamStep: 5,
  adamDecoupled: 6,
  adamMaximize: 7,
} as const;

export type AbiLayout = { readonly [K in keyof typeof ABI]: number };

/**
 * How the addon's layout differs from this one (the first difference, in words), or null when
 * they are the same.
 */
export function abiMismatch(addonAbi: unknown): string | null {
  if (typeof addonAbi !== 'object' || addonAbi === null) return 'it exports no call-descriptor layout';
  const theirs = addonAbi as Record<string, unknown>;
  for (const [k, v] of Object.entries(ABI)) {
    if (!(k in theirs)) return `its layout has no ${k}`;
    if (theirs[k] !== v) return `${k} is ${String(theirs[k])} in the addon but ${v} here`;
  }
  for (const k of Object.keys(theirs)) {
    if (!(k in ABI)) return `its layout has ${k}, unknown here`;
  }
  return null;
}

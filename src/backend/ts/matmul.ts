/**
 * Batched matmul of the reference backend: i-k-j loops over a packed, row-major copy of B, with
 * a float64 accumulator row (at least as accurate as PyTorch's float32 blocked GEMM). An optional
 * bias [N] is added to the stored (rounded) product, exactly as matmul followed by add.
 */
import type { View } from '../backend.js';
import { contiguousStrides, forEachElement } from './strided.js';

export function matmul(a: View, b: View, out: View, bias: View | null = null): void {
  const r = out.shape.length;
  const M = out.shape[r - 2], N = out.shape[r - 1], K = a.shape[r - 1];
  const batchShape = out.shape.slice(0, r - 2);
  const sam = a.strides[r - 2], sak = a.strides[r - 1];
  const sbk = b.strides[r - 2], sbn = b.strides[r - 1];
  const ad = a.data, bd = b.data, od = out.data;
  const acc = new Float64Array(N);
  const packed = new Float64Array(K * N);
  const bBatchStrides = b.strides.slice(0, r - 2);
  const bShared = bBatchStrides.every((s, d) => s === 0 || batchShape[d] === 1);
  let packedOnce = false;

  const pack = (bOff: number): void => {
    if (bShared && packedOnce) return;
    for (let k = 0; k < K; k++) {
      let ib = bOff + k * sbk;
      for (let j = 0; j < N; j++, ib += sbn) packed[k * N + j] = bd[ib];
    }
    packedOnce = true;
  };

  const outBatchStrides = contiguousStrides(batchShape).map((s) => s * M * N);
  forEachElement(
    batchShape,
    [a.strides.slice(0, r - 2), bBatchStrides, outBatchStrides],
    [a.offset, b.offset, out.offset],
    (offs) => {
      const aOff = offs[0], bOff = offs[1], oOff = offs[2];
      pack(bOff);
      for (let i = 0; i < M; i++) {
        acc.fill(0);
        let ia = aOff + i * sam;
        for (let k = 0; k < K; k++, ia += sak) {
          const aik = ad[ia];
          const base = k * N;
          for (let j = 0; j < N; j++) acc[j] += aik * packed[base + j];
        }
        const o = oOff + i * N;
        for (let j = 0; j < N; j++) od[o + j] = acc[j];
        if (bias) for (let j = 0; j < N; j++) od[o + j] = od[o + j] + bias.data[bias.offset + j];
      }
    },
  );
}

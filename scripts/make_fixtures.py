#!/usr/bin/python3
"""Writes the PyTorch parity fixtures under test/fixtures/ (run with Debian's python3-torch).

    /usr/bin/python3 scripts/make_fixtures.py      # or: npm run fixtures

Every case is a function of some inputs; the fixture stores the inputs, the output, a random
upstream gradient gy and the gradient of sum(out * gy) w.r.t. every float input. The test
suite (test/ops/parity.test.ts) runs the same function in qkv on the same inputs and compares.
The case list here and the one in the test must match name for name; the test checks that.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures")


class Spec:
    def __init__(self, kind, shape, high=None):
        self.kind, self.shape, self.high = kind, shape, high

    def make(self, g):
        if self.kind == "randn":
            return torch.randn(self.shape, generator=g)
        if self.kind == "pos":  # bounded away from 0 for log, sqrt, div, pow
            return torch.rand(self.shape, generator=g) + 0.5
        if self.kind == "int":
            return torch.randint(0, self.high, self.shape, generator=g)
        if self.kind == "bool":
            return torch.rand(self.shape, generator=g) < 0.5
        if self.kind == "distinct":  # well-separated values: no near-ties for max/min/argmax
            n = 1
            for s in self.shape:
                n *= s
            return (torch.randperm(n, generator=g).float() * 0.37 - n * 0.15).reshape(self.shape)
        raise ValueError(self.kind)


def R(*shape):
    return Spec("randn", shape)


def P(*shape):
    return Spec("pos", shape)


def I(high, *shape):
    return Spec("int", shape, high)


def B(*shape):
    return Spec("bool", shape)


def D(*shape):
    return Spec("distinct", shape)


def t_mask(*shape):
    return torch.triu(torch.ones(*shape, dtype=torch.bool), 1)


CASES = [
    # elementwise, broadcasting
    ("add_broadcast", lambda a, b: a + b, [R(2, 3), R(3)]),
    ("sub_broadcast", lambda a, b: a - b, [R(4, 1, 3), R(2, 3)]),
    ("mul_outer", lambda a, b: a * b, [R(2, 1), R(1, 3)]),
    ("div_broadcast", lambda a, b: a / b, [R(3, 4), P(4)]),
    ("pow_tensor", lambda a, b: torch.pow(a, b), [P(2, 3), R(2, 3)]),
    ("pow_scalar", lambda a: a ** 3, [R(2, 3)]),
    ("add_scalar", lambda a: a + 2.5, [R(3)]),
    ("rsub_scalar", lambda a: 1 - a, [R(3)]),
    ("maximum", lambda a, b: torch.maximum(a, b), [R(2, 3), R(3)]),
    ("minimum", lambda a, b: torch.minimum(a, b), [R(2, 3), R(2, 1)]),
    ("atan2", lambda a, b: torch.atan2(a, b), [R(2, 3), R(2, 3)]),
    ("add_zero_dim", lambda a, b: a + b, [R(2, 3), R()]),
    # unary
    ("neg", lambda a: -a, [R(2, 3)]),
    ("abs", lambda a: a.abs(), [R(2, 3)]),
    ("exp", lambda a: a.exp(), [R(2, 3)]),
    ("log", lambda a: a.log(), [P(2, 3)]),
    ("sqrt", lambda a: a.sqrt(), [P(2, 3)]),
    ("rsqrt", lambda a: a.rsqrt(), [P(2, 3)]),
    ("tanh", lambda a: a.tanh(), [R(2, 3)]),
    ("sigmoid", lambda a: a.sigmoid(), [R(2, 3)]),
    ("relu", lambda a: a.relu(), [R(4, 5)]),
    ("gelu", lambda a: F.gelu(a), [R(4, 5)]),
    ("gelu_tanh", lambda a: F.gelu(a, approximate="tanh"), [R(4, 5)]),
    ("gelu_tails", lambda a: F.gelu(a * 6), [R(4, 5)]),
    ("sin", lambda a: a.sin(), [R(2, 3)]),
    ("cos", lambda a: a.cos(), [R(2, 3)]),
    ("reciprocal", lambda a: a.reciprocal(), [P(2, 3)]),
    ("square", lambda a: a.square(), [R(2, 3)]),
    ("erf", lambda a: torch.erf(a), [R(2, 3)]),
    ("clamp", lambda a: a.clamp(-0.5, 0.5), [R(3, 4)]),
    # reductions
    ("sum_all", lambda a: a.sum(), [R(3, 4)]),
    ("sum_dim", lambda a: a.sum(1), [R(2, 3, 4)]),
    ("sum_dims_keepdim", lambda a: a.sum((0, 2), keepdim=True), [R(2, 3, 4)]),
    ("mean_dim", lambda a: a.mean(-1), [R(2, 3, 4)]),
    ("mean_all", lambda a: a.mean(), [R(2, 3, 4)]),
    ("max_dim", lambda a: a.max(1).values, [D(3, 5)]),
    ("max_all", lambda a: a.max(), [D(3, 5)]),
    ("min_dim_keepdim", lambda a: a.min(0, keepdim=True).values, [D(3, 5)]),
    ("amax_dims", lambda a: a.amax((0, 2)), [D(2, 3, 4)]),
    ("var_dim", lambda a: a.var(1), [R(3, 6)]),
    ("var_all_biased", lambda a: a.var(unbiased=False), [R(3, 6)]),
    ("std_dim_keepdim", lambda a: a.std(0, keepdim=True), [R(5, 3)]),
    ("logsumexp", lambda a: a.logsumexp(-1), [R(3, 7)]),
    ("argmax_dim", lambda a: a.argmax(1), [D(4, 6)]),
    ("argmin_all", lambda a: a.argmin(), [D(4, 6)]),
    # matmul family
    ("matmul_2d", lambda a, b: a @ b, [R(3, 4), R(4, 5)]),
    ("matmul_batch_broadcast", lambda a, b: a @ b, [R(2, 1, 3, 4), R(5, 4, 2)]),
    ("matmul_vec_mat", lambda a, b: a @ b, [R(4), R(4, 3)]),
    ("matmul_mat_vec", lambda a, b: a @ b, [R(3, 4), R(4)]),
    ("matmul_dot", lambda a, b: a @ b, [R(5), R(5)]),
    ("matmul_3d_2d", lambda a, b: a @ b, [R(2, 3, 4), R(4, 5)]),
    ("matmul_transposed", lambda a, b: a.transpose(-1, -2) @ b.t(), [R(2, 4, 3), R(5, 4)]),
    ("bmm", lambda a, b: torch.bmm(a, b), [R(2, 3, 4), R(2, 4, 5)]),
    ("linear", lambda x, w, b: F.linear(x, w, b), [R(2, 3, 4), R(5, 4), R(5)]),
    ("linear_nobias", lambda x, w: F.linear(x, w), [R(3, 4), R(6, 4)]),
    # softmax family
    ("softmax_last", lambda a: a.softmax(-1), [R(3, 5)]),
    ("softmax_dim0_3d", lambda a: a.softmax(0), [R(3, 2, 4)]),
    ("log_softmax", lambda a: a.log_softmax(-1), [R(3, 5)]),
    ("softmax_permuted", lambda a: a.permute(2, 0, 1).softmax(-1), [R(3, 4, 2)]),
    ("softmax_masked", lambda a: a.masked_fill(t_mask(4, 4), float("-inf")).softmax(-1), [R(2, 4, 4)]),
    ("softmax_large", lambda a: (a * 1000).softmax(-1), [R(2, 6)]),
    # layer norm
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (6,), w, b), [R(2, 3, 6), R(6), R(6)]),
    ("layer_norm_2d_shape", lambda x, w, b: F.layer_norm(x, (3, 4), w, b), [R(2, 3, 4), R(3, 4), R(3, 4)]),
    ("layer_norm_no_affine", lambda x: F.layer_norm(x, (5,)), [R(4, 5)]),
    ("layer_norm_transposed", lambda x, w, b: F.layer_norm(x.transpose(0, 1), (4,), w, b, eps=1e-3), [R(3, 2, 4), R(4), R(4)]),
    ("layer_norm_d2", lambda x, w, b: F.layer_norm(x, (2,), w, b), [R(5, 2), R(2), R(2)]),
    # embedding
    ("embedding", lambda i, w: F.embedding(i, w), [I(6, 2, 5), R(6, 3)]),
    ("embedding_padding", lambda i, w: F.embedding(i, w, padding_idx=0), [I(4, 10), R(4, 3)]),
    # masks and selection
    ("where", lambda c, a, b: torch.where(c, a, b), [B(2, 3), R(2, 3), R(3)]),
    ("masked_fill", lambda a, m: a.masked_fill(m, -2.0), [R(2, 3, 4), B(3, 4)]),
    ("triu", lambda a: a.triu(), [R(4, 5)]),
    ("tril_diag", lambda a: a.tril(-1), [R(2, 4, 4)]),
    ("triu_diag_pos", lambda a: torch.triu(a, 2), [R(3, 5)]),
    # losses
    ("cross_entropy", lambda x, t: F.cross_entropy(x, t), [R(6, 5), I(5, 6)]),
    ("cross_entropy_sum", lambda x, t: F.cross_entropy(x, t, reduction="sum"), [R(6, 5), I(5, 6)]),
    ("cross_entropy_none", lambda x, t: F.cross_entropy(x, t, reduction="none"), [R(6, 5), I(5, 6)]),
    ("cross_entropy_ignore", lambda x, t: F.cross_entropy(x, torch.where(t == 0, torch.full_like(t, -100), t)), [R(8, 4), I(4, 8)]),
    ("cross_entropy_smoothing", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), [R(6, 5), I(5, 6)]),
    ("cross_entropy_3d", lambda x, t: F.cross_entropy(x, t), [R(2, 4, 3), I(4, 2, 3)]),
    ("cross_entropy_probs", lambda x, p: F.cross_entropy(x, p.softmax(-1)), [R(3, 5), R(3, 5)]),
    ("cross_entropy_large_logits", lambda x, t: F.cross_entropy(x * 100, t), [R(4, 6), I(6, 4)]),
    ("mse_loss", lambda a, b: F.mse_loss(a, b), [R(3, 4), R(3, 4)]),
    ("mse_loss_sum", lambda a, b: F.mse_loss(a, b, reduction="sum"), [R(3, 4), R(3, 4)]),
    # views and copies
    ("permute_contiguous", lambda a: a.permute(2, 0, 1).contiguous() * 1.0, [R(2, 3, 4)]),
    ("transpose_exp", lambda a: a.t().exp(), [R(3, 2)]),
    ("narrow", lambda a: a.narrow(1, 1, 2), [R(3, 4)]),
    ("select", lambda a: a.select(0, 1) * a.select(2, -1).sum(), [R(2, 3, 4)]),
    ("slice_step", lambda a: a[:, 1::2], [R(3, 7)]),
    ("split_cat", lambda a: torch.cat(a.split(2, dim=1)[::-1], 1), [R(3, 5)]),
    ("split_sizes", lambda a: a.split([1, 3], dim=0)[1], [R(4, 2)]),
    ("chunk", lambda a: a.chunk(3, dim=-1)[2], [R(2, 7)]),
    ("cat_dim1", lambda a, b: torch.cat([a, b], 1), [R(2, 3), R(2, 4)]),
    ("stack", lambda a, b: torch.stack([a, b], 1), [R(2, 3), R(2, 3)]),
    ("expand_mul", lambda a, b: a.expand(3, 4) * b, [R(3, 1), R(3, 4)]),
    ("view_after_permute", lambda a: a.permute(1, 0, 2).reshape(3, 8), [R(2, 3, 4)]),
    ("unsqueeze_squeeze", lambda a: a.unsqueeze(1).squeeze(0) * 2, [R(1, 3)]),
    ("flatten", lambda a: a.flatten(1), [R(2, 3, 4)]),
    ("movedim", lambda a: a.movedim(0, -1), [R(2, 3, 4)]),
    ("index_select", lambda a, i: a.index_select(1, i), [R(3, 5), I(5, 4)]),
    ("unbind_sum", lambda a: sum(x * (k + 1) for k, x in enumerate(a.unbind(1))), [R(2, 3)]),
    # ops on non-contiguous, broadcast and expanded views
    ("add_transposed_broadcast", lambda a, b: a.t() + b, [R(4, 3), R(4)]),
    ("sum_transposed", lambda a: a.transpose(0, 2).sum(1), [R(2, 3, 4)]),
    ("mul_sliced", lambda a, b: a[:, ::2] * b[1:], [R(3, 6), R(4, 3)]),
    # gradient accumulation: a leaf used twice
    ("leaf_used_twice", lambda a, w: (a @ w) + (a @ w.t()), [R(3, 3), R(3, 3)]),
]


def run_case(name, fn, specs, g):
    inputs = [s.make(g) for s in specs]
    leaves = []
    for x in inputs:
        if x.is_floating_point():
            x.requires_grad_(True)
        leaves.append(x)
    out = fn(*leaves)
    rec = {f"{name}.in{i}": x.detach() for i, x in enumerate(leaves)}
    rec[f"{name}.out"] = out.detach()
    grads = []
    if out.is_floating_point() and out.requires_grad:
        gy = torch.randn(out.shape, generator=g)
        rec[f"{name}.gy"] = gy
        out.backward(gy)
        for i, x in enumerate(leaves):
            if x.is_floating_point():
                rec[f"{name}.grad{i}"] = x.grad if x.grad is not None else torch.zeros_like(x)
                grads.append(i)
    return rec, {"name": name, "inputs": len(leaves), "grads": grads}


def ops_fixture():
    g = torch.Generator().manual_seed(1234)
    tensors, cases = {}, []
    for name, fn, specs in CASES:
        rec, meta = run_case(name, fn, specs, g)
        tensors.update(rec)
        cases.append(meta)
    safetensors_io.save(
        os.path.join(OUT, "ops.safetensors"),
        tensors,
        {"cases": json.dumps(cases), "torch": torch.__version__},
    )
    return len(cases)


def qkv_layout_fixture():
    """Problem 2 of DESIGN.md: a packed QKV projection split into heads two ways."""
    g = torch.Generator().manual_seed(7)
    b, s, n_head, head = 2, 5, 4, 8
    dim = n_head * head
    x = torch.randn(b, s, dim, generator=g)
    w = torch.randn(3 * dim, dim, generator=g) / dim ** 0.5  # a fused Linear(dim, 3*dim) weight
    qkv = x @ w.t()  # (b, s, 3*dim), blocked: [q | k | v], each n_head*head wide
    # Right for a blocked (GPT-2 / MultiheadAttention) packing: chunk first, then view into heads.
    q, k, v = (t.view(b, s, n_head, head).transpose(1, 2) for t in qkv.chunk(3, dim=-1))
    # The head-interleaved reading (GPT-NeoX convention) applied to the same tensor.
    wq, wk, wv = qkv.view(b, s, n_head, 3 * head).split(head, dim=-1)
    wq, wk, wv = (t.transpose(1, 2) for t in (wq, wk, wv))
    att = (q @ k.transpose(-1, -2) / head ** 0.5).softmax(-1) @ v
    watt = (wq @ wk.transpose(-1, -2) / head ** 0.5).softmax(-1) @ wv
    safetensors_io.save(
        os.path.join(OUT, "qkv-layout.safetensors"),
        {"x": x, "w": w, "qkv": qkv, "q": q, "k": k, "v": v, "wrong_q": wq, "wrong_k": wk, "wrong_v": wv, "att": att, "wrong_att": watt},
        {"b": b, "s": s, "n_head": n_head, "head": head, "torch": torch.__version__},
    )


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    n = ops_fixture()
    qkv_layout_fixture()
    print(f"wrote {n} op cases and the QKV layout fixture to {os.path.normpath(OUT)} (torch {torch.__version__})")

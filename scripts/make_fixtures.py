#!/usr/bin/python3
"""Writes the PyTorch parity fixtures under test/fixtures/ (run with Debian's python3-torch).

    /usr/bin/python3 scripts/make_fixtures.py      # or: npm run fixtures

Every case is a function of some inputs; the fixture stores the inputs, the output, a random
upstream gradient gy and the gradient of sum(out * gy) w.r.t. every float input. The test
suite (test/ops/parity.test.ts) runs the same function in qkv on the same inputs and compares.
The case list here and the one in the test must match name for name; the test checks that.
"""
import json
import math
import os
import sys
import zlib

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



# ---------------------------------------------------------------------------------------------
# nn modules: the PyTorch module's state_dict, inputs, outputs, and gradients w.r.t. inputs and
# parameters. Modules run in eval mode (no dropout) so the comparison is deterministic.

E, H = 8, 2


def mha_case(kwargs, q_shape, kv_shape=None, fwd=None, masks=None):
    """A MultiheadAttention case; masks(g) returns extra (bool/float) inputs, fwd uses them."""
    def build(g):
        return torch.nn.MultiheadAttention(E, H, **kwargs)

    def inputs(g):
        q = torch.randn(q_shape, generator=g)
        kv = kv_shape or q_shape
        k = torch.randn(kv, generator=g)
        v = torch.randn(kv[:-1] + ((kwargs.get("vdim", E),)), generator=g)
        if "kdim" in kwargs:
            k = torch.randn(kv[:-1] + (kwargs["kdim"],), generator=g)
        return [q, k, v] + (masks(g) if masks else [])

    return build, inputs, fwd


def rand_kpm(b, s):
    def make(g):
        m = torch.rand(b, s, generator=g) < 0.3
        m[:, 0] = False  # never a fully masked row
        return m
    return make


NN_CASES = {
    "linear": (lambda g: torch.nn.Linear(5, 3), lambda g: [torch.randn(2, 4, 5, generator=g)], None),
    "linear_nobias": (lambda g: torch.nn.Linear(5, 3, bias=False), lambda g: [torch.randn(4, 5, generator=g)], None),
    "embedding_padding": (
        lambda g: torch.nn.Embedding(10, 4, padding_idx=1),
        lambda g: [torch.tensor([[1, 2, 3, 1, 9, 0], [4, 4, 1, 5, 6, 7]])],
        None,
    ),
    "layernorm": (lambda g: torch.nn.LayerNorm(6), lambda g: [torch.randn(3, 2, 6, generator=g)], None),
    "layernorm_noaffine_2d": (
        lambda g: torch.nn.LayerNorm([2, 3], elementwise_affine=False, eps=1e-3),
        lambda g: [torch.randn(4, 2, 3, generator=g)],
        None,
    ),
    "sequential_activations": (
        lambda g: torch.nn.Sequential(
            torch.nn.Linear(4, 6), torch.nn.GELU(approximate="tanh"), torch.nn.Linear(6, 6), torch.nn.Tanh(),
            torch.nn.Linear(6, 5), torch.nn.Sigmoid(), torch.nn.Linear(5, 5), torch.nn.GELU(), torch.nn.Linear(5, 3),
            torch.nn.ReLU(), torch.nn.Identity(), torch.nn.Softmax(-1),
        ),
        lambda g: [torch.randn(7, 4, generator=g)],
        None,
    ),
    "mha_self_weights": mha_case({}, (4, 3, E), fwd=lambda m, q, k, v: m(q, k, v)),
    "mha_cross_batch_first_kpm_per_head": mha_case(
        {"batch_first": True}, (3, 4, E), (3, 5, E),
        fwd=lambda m, q, k, v, kpm: m(q, k, v, key_padding_mask=kpm, average_attn_weights=False),
        masks=lambda g: [rand_kpm(3, 5)(g)],
    ),
    "mha_bool_causal_no_weights": mha_case(
        {}, (4, 3, E), fwd=lambda m, q, k, v: m(q, k, v, attn_mask=t_mask(4, 4), need_weights=False)
    ),
    "mha_float_mask_and_kpm": mha_case(
        {"batch_first": True}, (3, 4, E), (3, 5, E),
        fwd=lambda m, q, k, v, am, kpm: m(q, k, v, attn_mask=am, key_padding_mask=kpm),
        masks=lambda g: [torch.randn(4, 5, generator=g), rand_kpm(3, 5)(g)],
    ),
    "mha_3d_bool_mask": mha_case(
        {"batch_first": True}, (3, 4, E), (3, 5, E),
        fwd=lambda m, q, k, v, am: m(q, k, v, attn_mask=am),
        masks=lambda g: [torch.cat([torch.zeros(3 * H, 4, 1, dtype=torch.bool), torch.rand(3 * H, 4, 4, generator=g) < 0.4], -1)],
    ),
    "mha_kdim_vdim_nobias": mha_case(
        {"kdim": 6, "vdim": 7, "bias": False, "batch_first": True}, (2, 4, E), (2, 5, E),
        fwd=lambda m, q, k, v: m(q, k, v),
    ),
    "mha_unbatched": mha_case({}, (4, E), fwd=lambda m, q, k, v: m(q, k, v)),
    "mha_float_kpm": mha_case(
        {"batch_first": True}, (2, 3, E),
        fwd=lambda m, q, k, v, kpm: m(q, k, v, key_padding_mask=kpm),
        masks=lambda g: [torch.randn(2, 3, generator=g)],
    ),
    "tel_post_d2": (lambda g: torch.nn.TransformerEncoderLayer(2, 2), lambda g: [torch.randn(5, 3, 2, generator=g)], None),
    "tel_pre_d2": (
        lambda g: torch.nn.TransformerEncoderLayer(2, 2, norm_first=True),
        lambda g: [torch.randn(5, 3, 2, generator=g)],
        None,
    ),
    "tel_post_d64_masks": (
        lambda g: torch.nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, batch_first=True),
        lambda g: [torch.randn(2, 6, 64, generator=g), t_mask(6, 6), rand_kpm(2, 6)(g)],
        lambda m, x, sm, kpm: m(x, src_mask=sm, src_key_padding_mask=kpm),
    ),
    "tel_pre_d64_gelu": (
        lambda g: torch.nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, activation="gelu", batch_first=True, norm_first=True),
        lambda g: [torch.randn(2, 6, 64, generator=g)],
        None,
    ),
    "encoder_stack_norm": (
        lambda g: torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True, norm_first=True), 2,
            norm=torch.nn.LayerNorm(16),
        ),
        lambda g: [torch.randn(2, 5, 16, generator=g)],
        None,
    ),
    "cross_entropy_loss_module": (
        lambda g: torch.nn.CrossEntropyLoss(ignore_index=2, label_smoothing=0.05),
        lambda g: [torch.randn(6, 5, generator=g), torch.tensor([0, 2, 4, 1, 2, 3])],
        None,
    ),
    "mse_loss_module_sum": (
        lambda g: torch.nn.MSELoss(reduction="sum"),
        lambda g: [torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)],
        None,
    ),
}


def nn_fixture():
    g = torch.Generator().manual_seed(4321)
    tensors, cases = {}, []
    for name, (build, make_inputs, fwd) in NN_CASES.items():
        torch.manual_seed(zlib.crc32(name.encode()))
        module = build(g).eval()
        inputs = make_inputs(g)
        for x in inputs:
            if x.is_floating_point():  # float masks too: they are added, so they have gradients
                x.requires_grad_(True)
        out = fwd(module, *inputs) if fwd else module(*inputs)
        outs = [o for o in (out if isinstance(out, tuple) else (out,))]
        rec = {f"{name}.state.{k}": v for k, v in module.state_dict().items()}
        rec.update({f"{name}.in{i}": x.detach() for i, x in enumerate(inputs)})
        total = 0
        present = []
        for i, o in enumerate(outs):
            if o is None:
                continue
            present.append(i)
            rec[f"{name}.out{i}"] = o.detach()
            gy = torch.randn(o.shape, generator=g)
            rec[f"{name}.gy{i}"] = gy
            total = total + (o * gy).sum()
        total.backward()
        grads_in = [i for i, x in enumerate(inputs) if x.requires_grad]
        for i in grads_in:
            rec[f"{name}.grad.in{i}"] = inputs[i].grad
        for k, p in module.named_parameters():
            rec[f"{name}.grad.state.{k}"] = p.grad if p.grad is not None else torch.zeros_like(p)
        tensors.update(rec)
        cases.append({"name": name, "inputs": len(inputs), "outputs": present, "grad_inputs": grads_in})
    safetensors_io.save(os.path.join(OUT, "nn.safetensors"), tensors, {"cases": json.dumps(cases), "torch": torch.__version__})
    return len(cases)


# ---------------------------------------------------------------------------------------------
# Optimizers: 10-step trajectories of a small model on a fixed batch.

def cosine_warmup_factor(step, warmup, total, min_ratio):
    """nanoGPT's get_lr as a factor of the base lr (the same formula as qkv's CosineWarmupLR)."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if step > total:
        return min_ratio
    ratio = (step - warmup) / max(total - warmup, 1)
    return min_ratio + 0.5 * (1 + math.cos(math.pi * ratio)) * (1 - min_ratio)


OPTIM_CASES = {
    "sgd_momentum": lambda ps: (torch.optim.SGD(ps, lr=0.1, momentum=0.9), None, None),
    "sgd_nesterov_wd": lambda ps: (torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2), None, None),
    "sgd_dampening_maximize": lambda ps: (torch.optim.SGD(ps, lr=0.1, momentum=0.5, dampening=0.3, maximize=True), None, None),
    "adam": lambda ps: (torch.optim.Adam(ps, lr=1e-2), None, None),
    "adam_wd_amsgrad": lambda ps: (torch.optim.Adam(ps, lr=1e-2, weight_decay=0.1, amsgrad=True), None, None),
    "adamw": lambda ps: (torch.optim.AdamW(ps, lr=1e-2), None, None),
    "adamw_cosine_clip": lambda ps: (
        torch.optim.AdamW(ps, lr=2e-2, weight_decay=0.1, betas=(0.9, 0.95)),
        lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_warmup_factor(s, 3, 8, 0.1)),
        0.5,
    ),
    "adam_param_groups": lambda ps: (
        torch.optim.Adam([{"params": ps[:2], "lr": 3e-2}, {"params": ps[2:], "weight_decay": 0.05}], lr=1e-2),
        None,
        None,
    ),
}


def optim_fixture():
    g = torch.Generator().manual_seed(99)
    torch.manual_seed(99)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    init = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(16, 4, generator=g)
    y = torch.randint(0, 3, (16,), generator=g)
    tensors = {f"init.{k}": v for k, v in init.items()}
    tensors["x"], tensors["y"] = x, y
    for name, make in OPTIM_CASES.items():
        model.load_state_dict(init)
        opt, sched, clip = make(list(model.parameters()))
        sched = sched(opt) if sched else None
        losses, lrs, norms = [], [], []
        for _ in range(10):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            if clip:
                norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip)))
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if sched:
                sched.step()
            losses.append(loss.item())
        tensors[f"{name}.losses"] = torch.tensor(losses)
        tensors[f"{name}.lrs"] = torch.tensor(lrs, dtype=torch.float64)
        if norms:
            tensors[f"{name}.norms"] = torch.tensor(norms)
        for k, v in model.state_dict().items():
            tensors[f"{name}.final.{k}"] = v.clone()
        if name.startswith("adam"):
            st = opt.state_dict()["state"]
            tensors[f"{name}.exp_avg_sq.0"] = st[0]["exp_avg_sq"]
    safetensors_io.save(os.path.join(OUT, "optim.safetensors"), tensors, {"cases": json.dumps(list(OPTIM_CASES)), "torch": torch.__version__})


# ---------------------------------------------------------------------------------------------
# GPT: a nanoGPT-architecture model (same parameter names), written here from the architecture
# so the fixture needs nothing but torch; and the HF packed-QKV layouts of GPT-2 and GPT-NeoX.

class NanoAttention(torch.nn.Module):
    def __init__(self, C, H, block):
        super().__init__()
        self.c_attn = torch.nn.Linear(C, 3 * C)
        self.c_proj = torch.nn.Linear(C, C)
        self.H = H
        self.register_buffer("mask", torch.tril(torch.ones(block, block)).view(1, 1, block, block), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class NanoMLP(torch.nn.Module):
    def __init__(self, C):
        super().__init__()
        self.c_fc = torch.nn.Linear(C, 4 * C)
        self.gelu = torch.nn.GELU()
        self.c_proj = torch.nn.Linear(4 * C, C)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class NanoBlock(torch.nn.Module):
    def __init__(self, C, H, block):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(C)
        self.attn = NanoAttention(C, H, block)
        self.ln_2 = torch.nn.LayerNorm(C)
        self.mlp = NanoMLP(C)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class NanoGPT(torch.nn.Module):
    def __init__(self, V, block, L, H, C):
        super().__init__()
        self.transformer = torch.nn.ModuleDict(dict(
            wte=torch.nn.Embedding(V, C), wpe=torch.nn.Embedding(block, C), drop=torch.nn.Dropout(0.0),
            h=torch.nn.ModuleList([NanoBlock(C, H, block) for _ in range(L)]), ln_f=torch.nn.LayerNorm(C),
        ))
        self.lm_head = torch.nn.Linear(C, V, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # nanoGPT's tie

    def forward(self, idx, targets):
        T = idx.size(1)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(torch.arange(T)))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def gpt_fixture():
    g = torch.Generator().manual_seed(2024)
    torch.manual_seed(2024)
    V, block, L, H, C = 37, 16, 2, 4, 32
    model = NanoGPT(V, block, L, H, C)
    with torch.no_grad():
        for p in model.parameters():  # a trained-looking spread, not the tiny init
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    idx = torch.randint(0, V, (3, 12), generator=g)
    targets = torch.randint(0, V, (3, 12), generator=g)
    targets[0, :3] = -1  # ignored positions
    logits, loss = model(idx, targets)
    loss.backward()
    tensors = {f"state.{k}": v for k, v in model.state_dict().items()}
    tensors.update({"idx": idx, "targets": targets, "logits": logits.detach(), "loss": loss.detach()})
    for k, p in model.named_parameters():
        tensors[f"grad.{k}"] = p.grad
    safetensors_io.save(
        os.path.join(OUT, "gpt.safetensors"), tensors,
        {"config": json.dumps({"vocabSize": V, "blockSize": block, "nLayer": L, "nHead": H, "nEmbd": C}), "torch": torch.__version__},
    )


def hf_layouts_fixture():
    """Per-head q, k, v computed the way HF's GPT-2 (Conv1D, blocked) and GPT-NeoX (Linear,
    head-interleaved) attention code computes them from their packed projections."""
    g = torch.Generator().manual_seed(31)
    B, T, H, D = 2, 5, 4, 6
    C = H * D
    x = torch.randn(B, T, C, generator=g)
    # GPT-2: c_attn is a Conv1D, weight [in, out] = [C, 3C]: y = x @ W + b; query, key, value = y.split(C, 2)
    w2, b2 = torch.randn(C, 3 * C, generator=g) * 0.2, torch.randn(3 * C, generator=g) * 0.2
    y2 = x @ w2 + b2
    heads = lambda t: t.view(B, T, H, D).permute(0, 2, 1, 3)
    q2, k2, v2 = (heads(t) for t in y2.split(C, dim=2))
    # GPT-NeoX: query_key_value is a Linear (3C, C); qkv.view(B, T, H, 3D), then q = [..., :D], k, v.
    wn, bn = torch.randn(3 * C, C, generator=g) * 0.2, torch.randn(3 * C, generator=g) * 0.2
    yn = (x @ wn.t() + bn).view(B, T, H, 3 * D)
    qn, kn, vn = (yn[..., i * D:(i + 1) * D].permute(0, 2, 1, 3) for i in range(3))
    safetensors_io.save(
        os.path.join(OUT, "hf-layouts.safetensors"),
        {"x": x, "gpt2.c_attn.weight": w2, "gpt2.c_attn.bias": b2, "gpt2.q": q2, "gpt2.k": k2, "gpt2.v": v2,
         "neox.query_key_value.weight": wn, "neox.query_key_value.bias": bn, "neox.q": qn, "neox.k": kn, "neox.v": vn},
        {"n_head": H, "torch": torch.__version__},
    )


class Conv1D(torch.nn.Module):
    """HF GPT-2's Conv1D: a Linear whose weight is stored [in, out] (y = x @ W + b)."""

    def __init__(self, nx, nf):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(nx, nf))
        self.bias = torch.nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        return x @ self.weight + self.bias


class GPT2Attention(torch.nn.Module):
    def __init__(self, C, H, block):
        super().__init__()
        self.c_attn, self.c_proj, self.H = Conv1D(C, 3 * C), Conv1D(C, C), H
        # HF registers these buffers; checkpoints may carry them, importers must drop them.
        self.register_buffer("bias", torch.tril(torch.ones(block, block, dtype=torch.bool)).view(1, 1, block, block))
        self.register_buffer("masked_bias", torch.tensor(-1e4))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, C // self.H).permute(0, 2, 1, 3) for t in (q, k, v))
        w = (q @ k.transpose(-1, -2)) / math.sqrt(v.size(-1))
        w = torch.where(self.bias[:, :, :T, :T], w, torch.tensor(torch.finfo(w.dtype).min)).softmax(-1)
        return self.c_proj((w @ v).permute(0, 2, 1, 3).reshape(B, T, C))


class GPT2Block(torch.nn.Module):
    def __init__(self, C, H, block):
        super().__init__()
        self.ln_1, self.attn = torch.nn.LayerNorm(C, eps=1e-5), GPT2Attention(C, H, block)
        self.ln_2 = torch.nn.LayerNorm(C, eps=1e-5)
        self.mlp = torch.nn.Module()
        self.mlp.c_fc, self.mlp.c_proj = Conv1D(C, 4 * C), Conv1D(4 * C, C)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh"))  # gelu_new


class HFGPT2(torch.nn.Module):
    """GPT2LMHeadModel's architecture and parameter names."""

    def __init__(self, V, block, L, H, C):
        super().__init__()
        self.transformer = torch.nn.Module()
        self.transformer.wte, self.transformer.wpe = torch.nn.Embedding(V, C), torch.nn.Embedding(block, C)
        self.transformer.h = torch.nn.ModuleList([GPT2Block(C, H, block) for _ in range(L)])
        self.transformer.ln_f = torch.nn.LayerNorm(C, eps=1e-5)
        self.lm_head = torch.nn.Linear(C, V, bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    def forward(self, idx):
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(idx.size(1)))
        for b in self.transformer.h:
            x = b(x)
        return self.lm_head(self.transformer.ln_f(x))


def hf_gpt2_fixture():
    g = torch.Generator().manual_seed(77)
    torch.manual_seed(77)
    V, block, L, H, C = 41, 16, 2, 4, 32
    model = HFGPT2(V, block, L, H, C)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    idx = torch.randint(0, V, (2, 10), generator=g)
    logits = model(idx)
    sd = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}  # HF saves the tied head once
    config = {"vocab_size": V, "n_positions": block, "n_layer": L, "n_head": H, "n_embd": C,
              "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "model_type": "gpt2"}
    safetensors_io.save(os.path.join(OUT, "hf-gpt2.safetensors"), sd, {"format": "pt", "config": json.dumps(config)})
    safetensors_io.save(os.path.join(OUT, "hf-gpt2-reference.safetensors"), {"idx": idx, "logits": logits.detach()}, {"torch": torch.__version__})


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class NeoXAttention(torch.nn.Module):
    def __init__(self, C, H, pct, base, block):
        super().__init__()
        self.H, self.D = H, C // H
        self.rot = int(self.D * pct)
        self.query_key_value, self.dense = torch.nn.Linear(C, 3 * C), torch.nn.Linear(C, C)
        # HF registers these; importers drop them.
        self.register_buffer("bias", torch.tril(torch.ones(block, block, dtype=torch.bool)).view(1, 1, block, block))
        self.register_buffer("masked_bias", torch.tensor(-1e9))
        self.rotary_emb = torch.nn.Module()
        self.rotary_emb.register_buffer("inv_freq", 1.0 / (base ** (torch.arange(0, self.rot, 2).float() / self.rot)))

    def forward(self, x):
        B, T, C = x.shape
        qkv = self.query_key_value(x).view(B, T, self.H, 3 * self.D)
        q, k, v = (qkv[..., i * self.D:(i + 1) * self.D].permute(0, 2, 1, 3) for i in range(3))
        freqs = torch.einsum("i,j->ij", torch.arange(T).float(), self.rotary_emb.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        rot = lambda t: torch.cat((t[..., :self.rot] * cos + rotate_half(t[..., :self.rot]) * sin, t[..., self.rot:]), dim=-1)
        q, k = rot(q), rot(k)
        w = (q @ k.transpose(-1, -2)) / math.sqrt(self.D)
        w = w.masked_fill(~self.bias[:, :, :T, :T], float("-inf")).softmax(-1)
        return self.dense((w @ v).permute(0, 2, 1, 3).reshape(B, T, C))


class NeoXLayer(torch.nn.Module):
    def __init__(self, C, H, pct, base, block, parallel):
        super().__init__()
        self.parallel = parallel
        self.input_layernorm, self.post_attention_layernorm = torch.nn.LayerNorm(C), torch.nn.LayerNorm(C)
        self.attention = NeoXAttention(C, H, pct, base, block)
        self.mlp = torch.nn.Module()
        self.mlp.dense_h_to_4h, self.mlp.dense_4h_to_h = torch.nn.Linear(C, 4 * C), torch.nn.Linear(4 * C, C)

    def mlp_forward(self, x):
        return self.mlp.dense_4h_to_h(F.gelu(self.mlp.dense_h_to_4h(x)))

    def forward(self, x):
        a = self.attention(self.input_layernorm(x))
        if self.parallel:
            return x + a + self.mlp_forward(self.post_attention_layernorm(x))
        x = x + a
        return x + self.mlp_forward(self.post_attention_layernorm(x))


class HFGPTNeoX(torch.nn.Module):
    """GPTNeoXForCausalLM's architecture and parameter names (Pythia)."""

    def __init__(self, V, block, L, H, C, pct, base, parallel):
        super().__init__()
        self.gpt_neox = torch.nn.Module()
        self.gpt_neox.embed_in = torch.nn.Embedding(V, C)
        self.gpt_neox.layers = torch.nn.ModuleList([NeoXLayer(C, H, pct, base, block, parallel) for _ in range(L)])
        self.gpt_neox.final_layer_norm = torch.nn.LayerNorm(C)
        self.embed_out = torch.nn.Linear(C, V, bias=False)

    def forward(self, idx):
        x = self.gpt_neox.embed_in(idx)
        for layer in self.gpt_neox.layers:
            x = layer(x)
        return self.embed_out(self.gpt_neox.final_layer_norm(x))


def hf_neox_fixture():
    g = torch.Generator().manual_seed(55)
    tensors, configs = {}, {}
    for name, (pct, parallel) in {"pythia": (0.25, True), "sequential": (0.5, False)}.items():
        torch.manual_seed(55)
        V, block, L, H, C = 43, 16, 2, 4, 32
        model = HFGPTNeoX(V, block, L, H, C, pct, 10000, parallel)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
        idx = torch.randint(0, V, (2, 11), generator=g)
        tensors.update({f"{name}.{k}": v for k, v in model.state_dict().items()})
        tensors[f"{name}.ref.idx"], tensors[f"{name}.ref.logits"] = idx, model(idx).detach()
        configs[name] = {"vocab_size": V, "max_position_embeddings": block, "num_hidden_layers": L, "num_attention_heads": H,
                         "hidden_size": C, "intermediate_size": 4 * C, "rotary_pct": pct, "rotary_emb_base": 10000,
                         "use_parallel_residual": parallel, "hidden_act": "gelu", "layer_norm_eps": 1e-5,
                         "tie_word_embeddings": False, "model_type": "gpt_neox"}
    safetensors_io.save(os.path.join(OUT, "hf-neox.safetensors"), tensors, {"configs": json.dumps(configs), "torch": torch.__version__})


def check_qkv_file(path):
    """Loads a state dict written by qkv into the PyTorch module it names (strict=True) and checks
    that PyTorch reproduces qkv's output on qkv's input. Used by test/nn/torch-roundtrip.test.ts."""
    tensors, meta = safetensors_io.load(path)
    module = getattr(torch.nn, meta["module"])(*json.loads(meta["args"]), **json.loads(meta["kwargs"])).eval()
    x, expected = tensors.pop("__input__"), tensors.pop("__output__")
    module.load_state_dict(tensors, strict=True)
    with torch.no_grad():
        out = module(x)
    err = (out - expected).abs().max().item()
    if not torch.allclose(out, expected, rtol=1e-5, atol=1e-5):
        print(f"MISMATCH max abs error {err}")
        sys.exit(1)
    print(f"OK {meta['module']} loaded strict, max abs error {err:.3g}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-qkv":
        check_qkv_file(sys.argv[2])
        sys.exit(0)
    os.makedirs(OUT, exist_ok=True)
    n = ops_fixture()
    qkv_layout_fixture()
    m = nn_fixture()
    optim_fixture()
    gpt_fixture()
    hf_layouts_fixture()
    hf_gpt2_fixture()
    hf_neox_fixture()
    print(f"wrote {n} op cases, {m} nn cases, the optimizer trajectories, the GPT, QKV-layout and HF-layout fixtures to {os.path.normpath(OUT)} (torch {torch.__version__})")

"""PyTorch side of `qkv bench` (this folder, src/bench/): the workloads of DESIGN.md, one per process.

Launched by the qkv bench with OPENBLAS_NUM_THREADS set in the environment (2 for the
workloads: PyTorch's best setting on a 2-core machine, together with torch.set_num_threads(1);
1 or 2 for the GEMM rows). Prints one JSON object on its last line:
  {"workload": ..., "times_ms": [...], "median_ms": ..., "maxrss_kb": ..., "torch": version}
or, for gemm, {"workload": "gemm", "gflops": {"256": ..., ...}, ...}.

The models mirror the qkv side exactly (workloads.ts, beside this file):
  W1  vit-pytorch Attention: to_qkv Linear(256, 768, bias=False), 8 heads of 32, softmax(q kᵀ/√32) v,
      to_out Linear(256, 256); x (32, 64, 256); loss mean(out²); Adam.
  W2  nn.TransformerEncoderLayer(256, 8, 1024, dropout=0, batch_first, norm_first); x (32, 64, 256);
      loss mean(out²); Adam.
  W3  nanoGPT (the non-flash path of 1.13): vocab 256, block 64, 4 layers, 128 wide, 4 heads,
      MLP 4×, exact GELU, pre-LN, causal, tied wte/lm_head, biases; batch 16 of random tokens;
      cross-entropy; AdamW.
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    """vit-pytorch's Attention (without its optional leading LayerNorm, as DESIGN.md's W1)."""

    def __init__(self, dim=256, heads=8, dim_head=32):
        super().__init__()
        inner = dim_head * heads
        self.heads = heads
        self.scale = dim_head ** -0.5
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        self.to_out = nn.Linear(inner, dim)

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q, k, v = (t.reshape(b, n, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        attn = (torch.matmul(q, k.transpose(-1, -2)) * self.scale).softmax(dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, n, -1)
        return self.to_out(out)


class CausalSelfAttention(nn.Module):
    def __init__(self, d, h, block):
        super().__init__()
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.h = h
        self.register_buffer("bias", torch.tril(torch.ones(block, block)).view(1, 1, block, block))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, d, h, block):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, h, block)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, 4 * d)
        self.c_proj = nn.Linear(4 * d, d)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab=256, block=64, layers=4, d=128, h=4):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(block, d)
        self.h = nn.ModuleList([Block(d, h, block) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.wte.weight = self.lm_head.weight  # tied
        for n, p in self.named_parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers) if n.endswith("c_proj.weight") else 0.02)
            elif n.endswith("bias") and not n.startswith("ln"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for blk in self.h:
            x = blk(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def workload(name):
    torch.manual_seed(0)
    if name == "w1":
        m = Attention()
        x = torch.randn(32, 64, 256)
        opt = torch.optim.Adam(m.parameters())
        return lambda: m(x).square().mean(), opt
    if name == "w2":
        m = nn.TransformerEncoderLayer(256, 8, dim_feedforward=1024, dropout=0.0, batch_first=True, norm_first=True)
        x = torch.randn(32, 64, 256)
        opt = torch.optim.Adam(m.parameters())
        return lambda: m(x).square().mean(), opt
    if name == "w3":
        m = GPT()
        idx = torch.randint(0, 256, (16, 64))
        tgt = torch.randint(0, 256, (16, 64))
        opt = torch.optim.AdamW(m.parameters())
        return lambda: m(idx, tgt), opt
    raise SystemExit(f"torch_bench.py: unknown workload {name!r}")


def blas_in_use():
    """Which BLAS library this process loaded (Debian's python3-torch uses whatever libblas.so.3 is)."""
    torch.mm(torch.ones(4, 4), torch.ones(4, 4))
    try:
        maps = open("/proc/self/maps").read()
    except OSError:
        return "unknown"
    for key, name in (("openblas", "OpenBLAS"), ("libmkl", "MKL"), ("blis", "BLIS"), ("atlas", "ATLAS")):
        if key in maps:
            return name
    if "libblas.so" in maps:
        return "reference BLAS (slow: install libopenblas0-pthread)"
    return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--min-time", type=float, default=0.4)
    a = ap.parse_args()
    torch.set_num_threads(1)
    out = {"workload": a.workload, "torch": torch.__version__, "intra_op_threads": torch.get_num_threads(), "blas": blas_in_use()}
    if a.workload == "gemm":
        gf = {}
        for n in [int(s) for s in a.sizes.split(",")]:
            x, y = torch.rand(n, n), torch.rand(n, n)
            for _ in range(3):
                torch.mm(x, y)
            times = []
            t_end = time.perf_counter() + a.min_time
            while len(times) < 5 or time.perf_counter() < t_end:
                t0 = time.perf_counter()
                torch.mm(x, y)
                times.append(time.perf_counter() - t0)
            gf[str(n)] = 2 * n ** 3 / statistics.median(times) / 1e9
        out["gflops"] = gf
    else:
        loss_fn, opt = workload(a.workload)
        times = []
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = loss_fn()
            loss.backward()
            opt.step()
            loss.item()
            if i >= a.warmup:
                times.append((time.perf_counter() - t0) * 1000)
        out["times_ms"] = times
        out["median_ms"] = statistics.median(times)
        out["loss"] = loss.item()
    out["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())

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
  W4  GPT-2 small generation: the same model class at 12 layers, 12 heads, 768 wide, vocab 50257,
      context 1024, GELU tanh; batch 1, a 256-token prompt, then 64 greedy tokens with the KV cache
      (past keys/values concatenated, the head on the last position only); prints the whole call,
      the prefill and tokens/s after it (medians).
  W5  GPT-2 small training step: batch 4 × 128 random tokens, cross-entropy, AdamW.
  W6  small-op overhead: (a) 200 chained elementwise ops on [64] floats, forward + backward;
      (b) Linear(64, 64) on [8, 64, 64] under no_grad; (c) (b)'s first 50 calls in this process.
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

    def forward(self, x, past=None):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        if past is not None:  # HF GPT-2's layer_past: keys and values of earlier positions
            if past[0] is not None:
                k = torch.cat([past[0], k], dim=-2)
                v = torch.cat([past[1], v], dim=-2)
            past[0], past[1] = k, v
        S = k.size(-2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, S - T:S, :S] == 0, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, d, h, block, gelu="none"):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, h, block)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, 4 * d)
        self.c_proj = nn.Linear(4 * d, d)
        self.gelu = gelu

    def forward(self, x, past=None):
        x = x + self.attn(self.ln_1(x), past)
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate=self.gelu))


class GPT(nn.Module):
    def __init__(self, vocab=256, block=64, layers=4, d=128, h=4, gelu="none"):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(block, d)
        self.h = nn.ModuleList([Block(d, h, block, gelu) for _ in range(layers)])
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

    def next_logits(self, idx, past):
        """Logits of the position after idx (the head on the last position only), extending `past`."""
        T = idx.size(1)
        start = 0 if past[0][0] is None else past[0][0].size(-2)
        x = self.wte(idx) + self.wpe(torch.arange(start, start + T))
        for blk, p in zip(self.h, past):
            x = blk(x, p)
        return self.lm_head(self.ln_f(x[:, -1, :]))


GPT2_SMALL = dict(vocab=50257, block=1024, layers=12, d=768, h=12, gelu="tanh")
GEN_PROMPT, GEN_TOKENS = 256, 64


def generation(reps):
    """W4: medians over reps of the whole call, the prefill, and tokens/s after it."""
    torch.manual_seed(0)
    m = GPT(**GPT2_SMALL).eval()
    prompt = torch.randint(0, 50257, (1, GEN_PROMPT))

    def run(timing=None):
        past = [[None, None] for _ in m.h]
        t0 = time.perf_counter()
        nxt = m.next_logits(prompt, past).argmax(-1, keepdim=True)
        t1 = time.perf_counter()
        out = [prompt, nxt]
        for _ in range(GEN_TOKENS - 1):
            nxt = m.next_logits(nxt, past).argmax(-1, keepdim=True)
            out.append(nxt)
        t2 = time.perf_counter()
        if timing is not None:
            timing.append((t2 - t0, t1 - t0, (GEN_TOKENS - 1) / (t2 - t1)))
        return torch.cat(out, 1)

    with torch.no_grad():
        run()
        timing = []
        for _ in range(reps):
            run(timing)
    return {
        "total_ms": statistics.median(t[0] for t in timing) * 1000,
        "prefill_ms": statistics.median(t[1] for t in timing) * 1000,
        "tokens_per_sec": statistics.median(t[2] for t in timing),
    }


def overhead():
    """W6 (a)-(c), as the qkv worker measures them; (c) runs first, before anything else."""
    torch.manual_seed(0)
    x = torch.randn(64, requires_grad=True)
    lin = nn.Linear(64, 64)
    inp = torch.randn(8, 64, 64)
    first = []
    with torch.no_grad():
        for _ in range(50):
            t0 = time.perf_counter()
            lin(inp)
            first.append(time.perf_counter() - t0)
        lin_t = []
        for i in range(2000):
            t0 = time.perf_counter()
            lin(inp)
            if i >= 200:
                lin_t.append(time.perf_counter() - t0)

    def chain():
        y = x
        for i in range(200):
            k = i % 4
            y = y * 1.01 if k == 0 else y + 0.01 if k == 1 else torch.tanh(y) if k == 2 else y - 0.005
        loss = y.sum()
        loss.backward()
        x.grad = None
        return loss.item()

    chain_t = []
    for i in range(300):
        t0 = time.perf_counter()
        chain()
        if i >= 50:
            chain_t.append(time.perf_counter() - t0)
    return {
        "chain_ms": statistics.median(chain_t) * 1000,
        "linear_us": statistics.median(lin_t) * 1e6,
        "first50_us": sum(first) / len(first) * 1e6,
    }


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
    if name in ("w3", "w5"):
        m = GPT() if name == "w3" else GPT(**GPT2_SMALL)
        V = m.lm_head.out_features
        B, T = (16, 64) if name == "w3" else (4, 128)
        idx = torch.randint(0, V, (B, T))
        tgt = torch.randint(0, V, (B, T))
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
    ap.add_argument("--reps", type=int, default=3)
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
    elif a.workload == "w4":
        out.update(generation(a.reps))
    elif a.workload == "w6":
        out.update(overhead())
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

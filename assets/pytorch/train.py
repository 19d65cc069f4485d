#!/usr/bin/env python3
"""Continue training a qkv model in PyTorch — on one process, or on many with torchrun.

Written by `qkv export --to pytorch`. Self-contained: needs only PyTorch. The model below rebuilds
qkv's models.GPT exactly (same parameter names, same function), loads model.safetensors, and
continues training with qkv's recipe (AdamW with weight-decay groups, warm-up + cosine schedule,
gradient clipping) on the exported token data.

    python3 train.py --steps 200                          # one process
    torchrun --nproc_per_node 8 train.py --steps 200      # DDP, 8 processes (CPU: gloo, GPU: nccl)
    torchrun --nnodes 4 --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint HOST:29500 \\
        train.py --fsdp                                   # FSDP across machines (GPUs)

The trained model is written to --out (model.safetensors and config.json) in the same layout, so
qkv loads it back (importFromPyTorch(OUT) in code, `qkv sample OUT` on the command line).

Notes for Debian's python3-torch (1.13) under Python 3.11: torchrun needs `--redirects 2 --tee 2`
(its default redirect value is lost by Python 3.11's IntFlag), and torch 1.13's FSDP module does not
import under Python 3.11, so --fsdp needs a newer PyTorch (and is meant for GPUs).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))

# ----------------------------------------------------------------------------------------------
# safetensors, as qkv writes it: 8-byte little-endian header length, JSON header, data. Tied
# weights are stored once and declared in __metadata__["qkv.ties"] = {alias: target}.

DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
NAMES = {v: k for k, v in DTYPES.items()}


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        buf = bytearray(raw[8 + n + begin:8 + n + end])
        t = torch.frombuffer(buf, dtype=DTYPES[e["dtype"]]) if buf else torch.empty(0, dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"])
    for alias, target in json.loads(meta.get("qkv.ties", "{}")).items():
        out[alias] = out[target]
    return out, meta


def save_safetensors(path, tensors, metadata=None):
    """Writes tensors (tied ones once, the tie declared), atomically (temporary file, then rename)."""
    ties, seen, items = {}, {}, []
    for name, t in tensors.items():
        key = (t.data_ptr(), tuple(t.shape), t.dtype) if t.numel() else None
        if key in seen:
            ties[name] = seen[key]
            continue
        if key:
            seen[key] = name
        items.append((name, t.detach().contiguous().cpu()))
    meta = dict(metadata or {})
    if ties:
        meta["qkv.ties"] = json.dumps(ties)
    header, blobs, at = {"__metadata__": meta} if meta else {}, [], 0
    for name, t in items:
        data = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------
# The model: qkv's models.GPT (nanoGPT's names; pre-/post-LN; learned or rotary positions;
# fused, separate or merged-qk attention storage; blocked or head-interleaved packing).

class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, H = c["nEmbd"], c["nHead"]
        self.H, self.D, self.storage, self.layout = H, C // H, c["attention"], c["layout"]
        bias = c["bias"]
        if self.storage == "fused":
            self.c_attn = nn.Linear(C, 3 * C, bias=bias)
        elif self.storage == "separate":
            self.c_q, self.c_k, self.c_v = (nn.Linear(C, C, bias=bias) for _ in range(3))
        else:  # merged-qk: a C×C bilinear form per head instead of W_Q, W_K
            self.W_QK = nn.Parameter(torch.zeros(H, C, C))
            self.qk_bias = nn.Parameter(torch.zeros(H, C)) if bias else None
            self.c_v = nn.Linear(C, C, bias=bias)
        self.c_proj = nn.Linear(C, C, bias=bias)
        self.attn_dropout, self.resid_dropout = nn.Dropout(c["dropout"]), nn.Dropout(c["dropout"])
        rot = 2 * int(self.D * c["rotaryPct"] / 2) if c["positional"] == "rotary" else 0
        self.rot, self.base = rot, c["rotaryBase"]

    def heads(self, t):
        B, T, _ = t.shape
        return t.view(B, T, self.H, self.D).transpose(1, 2)  # (B, H, T, D)

    def rotate(self, x):
        T, R = x.shape[2], self.rot
        inv = self.base ** (-torch.arange(0, R, 2, dtype=torch.float64) / R)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        cos, sin = (torch.cat([f(ang), f(ang)], -1).to(x.dtype) for f in (torch.cos, torch.sin))
        xr = x[..., :R]
        half = torch.cat([-xr[..., R // 2:], xr[..., :R // 2]], -1)
        return torch.cat([xr * cos + half * sin, x[..., R:]], -1)

    def forward(self, x):
        B, T, C = x.shape
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        if self.storage == "merged-qk":
            q = x.unsqueeze(1) @ self.W_QK  # (B, H, T, C)
            scores = q @ x.unsqueeze(1).transpose(-1, -2)
            if self.qk_bias is not None:
                scores = scores + (x.unsqueeze(1) @ self.qk_bias.unsqueeze(-1)).transpose(-1, -2)
            scores = scores / math.sqrt(self.D)
            v = self.heads(self.c_v(x))
        else:
            if self.storage == "fused":
                y = self.c_attn(x)
                if self.layout == "blocked":
                    q, k, v = (self.heads(t) for t in y.split(C, dim=2))
                else:  # head-interleaved (GPT-NeoX)
                    y = y.view(B, T, self.H, 3, self.D)
                    q, k, v = (y[:, :, :, i].transpose(1, 2) for i in range(3))
            else:
                q, k, v = self.heads(self.c_q(x)), self.heads(self.c_k(x)), self.heads(self.c_v(x))
            if self.rot:
                q, k = self.rotate(q), self.rotate(k)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.D)
        att = self.attn_dropout(scores.masked_fill(~causal, float("-inf")).softmax(-1))
        return self.resid_dropout(self.c_proj((att @ v).transpose(1, 2).reshape(B, T, C)))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c["nEmbd"]
        self.c_fc, self.c_proj = nn.Linear(C, 4 * C, bias=c["bias"]), nn.Linear(4 * C, C, bias=c["bias"])
        self.approximate = "tanh" if c["activation"] == "gelu_tanh" else "none"
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate=self.approximate)))


def layer_norm(c):
    ln = nn.LayerNorm(c["nEmbd"], eps=c["layerNormEps"])
    if not c["bias"]:
        ln.bias = None  # nanoGPT's bias=False LayerNorm
    return ln


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1, self.attn, self.ln_2, self.mlp = layer_norm(c), Attention(c), layer_norm(c), MLP(c)
        self.norm_first, self.parallel = c["normFirst"], c["parallelResidual"]

    def forward(self, x):
        if self.parallel:
            return x + self.attn(self.ln_1(x)) + self.mlp(self.ln_2(x))
        if self.norm_first:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))
        x = self.ln_1(x + self.attn(x))
        return self.ln_2(x + self.mlp(x))


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        parts = dict(wte=nn.Embedding(c["vocabSize"], c["nEmbd"]))
        if c["positional"] == "learned":
            parts["wpe"] = nn.Embedding(c["blockSize"], c["nEmbd"])
        parts.update(drop=nn.Dropout(c["dropout"]), h=nn.ModuleList([Block(c) for _ in range(c["nLayer"])]), ln_f=layer_norm(c))
        self.transformer = nn.ModuleDict(parts)
        self.lm_head = nn.Linear(c["nEmbd"], c["vocabSize"], bias=False)
        if c["tieWeights"]:
            self.lm_head.weight = self.transformer.wte.weight

    def forward(self, idx, targets=None):
        x = self.transformer.wte(idx)
        if "wpe" in self.transformer:
            x = x + self.transformer.wpe(torch.arange(idx.size(1), device=idx.device))
        x = self.transformer.drop(x)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


# ----------------------------------------------------------------------------------------------
# Training: qkv's recipe.

def lr_factor(step, warmup, total, min_ratio):
    """qkv's CosineWarmupLR (nanoGPT's get_lr) as a factor of the base lr."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if step > total:
        return min_ratio
    ratio = (step - warmup) / max(total - warmup, 1)
    return min_ratio + 0.5 * (1 + math.cos(math.pi * ratio)) * (1 - min_ratio)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=100, help="optimizer steps to run (default 100)")
    ap.add_argument("--batch-size", type=int, help="sequences per step per process (default: the exported run's)")
    ap.add_argument("--lr", type=float, help="peak learning rate (default: the exported run's)")
    ap.add_argument("--out", default=os.path.join(HERE, "trained"), help="where to write the trained model")
    ap.add_argument("--fsdp", action="store_true", help="shard with FullyShardedDataParallel instead of DDP")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--logits", nargs=2, metavar=("IN", "OUT"), help="no training: write the logits for IN's 'idx' tensor to OUT")
    ap.add_argument("--from", dest="src", default=HERE, help="folder with config.json and model.safetensors (default: this script's)")
    args = ap.parse_args()

    cfg = json.load(open(os.path.join(args.src, "config.json")))
    c, opts = cfg["model"], cfg["train"]
    model = GPT(c)
    state, _ = load_safetensors(os.path.join(args.src, "model.safetensors"))
    model.load_state_dict(state, strict=True)

    if args.logits:
        model.eval()
        with torch.no_grad():
            logits, _ = model(load_safetensors(args.logits[0])[0]["idx"].long())
        save_safetensors(args.logits[1], {"logits": logits})
        return

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = torch.device("cpu")
    if world > 1:
        cuda = torch.cuda.is_available()
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
        if cuda:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    model.to(device)
    raw = model
    if world > 1:
        if args.fsdp:
            from torch.distributed.fsdp import FullyShardedDataParallel
            model = FullyShardedDataParallel(model)
        else:
            model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    lr = args.lr if args.lr is not None else opts["lr"]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": opts["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=lr, betas=tuple(opts["betas"]))
    start = cfg.get("step", 0)
    opt_file = os.path.join(args.src, "optimizer.safetensors")
    if os.path.exists(opt_file) and not args.fsdp:
        # qkv's AdamW state, by parameter name: {name}.exp_avg, {name}.exp_avg_sq, and the step count.
        saved, meta = load_safetensors(opt_file)
        for name, p in raw.named_parameters():
            if f"{name}.exp_avg" in saved:
                optimizer.state[p] = {"step": torch.tensor(float(meta["step"])), "exp_avg": saved[f"{name}.exp_avg"].to(device).clone(),
                                      "exp_avg_sq": saved[f"{name}.exp_avg_sq"].to(device).clone()}
    total = start + args.steps
    warmup = min(opts["warmupSteps"], total)
    for g in optimizer.param_groups:
        g["initial_lr"] = lr

    data_file = os.path.join(args.src, "data.safetensors")
    if not os.path.exists(data_file):
        sys.exit(f"train.py: {data_file} is missing: export with data (qkv export --to pytorch from a training checkpoint)")
    data = load_safetensors(data_file)[0]
    train, val = data["train"].long(), data["val"].long()
    B, T = args.batch_size or opts["batchSize"], c["blockSize"]
    gen = torch.Generator().manual_seed(args.seed + rank)

    def batch(split):
        ix = torch.randint(len(split) - T, (B,), generator=gen)
        x = torch.stack([split[i:i + T] for i in ix])
        y = torch.stack([split[i + 1:i + 1 + T] for i in ix])
        return x.to(device), y.to(device)

    model.train()
    for step in range(start, total):
        for g in optimizer.param_groups:
            g["lr"] = lr * lr_factor(step, warmup, total, opts["minLrRatio"])
        t0 = time.time()
        x, y = batch(train)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if opts["gradClip"] > 0:
            if args.fsdp and world > 1:
                model.clip_grad_norm_(opts["gradClip"])
            else:
                torch.nn.utils.clip_grad_norm_(model.parameters(), opts["gradClip"])
        optimizer.step()
        if rank == 0:
            print(f"step {step}: loss {loss.item():.4f}, lr {optimizer.param_groups[0]['lr']:.2e}, {1000 * (time.time() - t0):.0f} ms", flush=True)

    model.eval()
    with torch.no_grad():
        losses = [model(*batch(val))[1].item() for _ in range(4)]
    if args.fsdp and world > 1:
        from torch.distributed.fsdp import FullyShardedDataParallel, StateDictType, FullStateDictConfig
        with FullyShardedDataParallel.state_dict_type(model, StateDictType.FULL_STATE_DICT, FullStateDictConfig(offload_to_cpu=True, rank0_only=True)):
            full = model.state_dict()
    else:
        full = raw.state_dict()
    if rank == 0:
        print(f"val loss {sum(losses) / len(losses):.4f} (rank 0, {len(losses)} batches)", flush=True)
        os.makedirs(args.out, exist_ok=True)
        save_safetensors(os.path.join(args.out, "model.safetensors"), {k: v.cpu() for k, v in full.items()}, {"format": "pt"})
        out_cfg = dict(cfg, step=total)
        with open(os.path.join(args.out, "config.json"), "w") as f:
            json.dump(out_cfg, f, indent=1)
        print(f"wrote {args.out}", flush=True)
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()

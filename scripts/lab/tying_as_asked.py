#!/usr/bin/python3
"""Problem 5 (weight tying) as asked, run in PyTorch 1.13: the reference for the lab's tying
experiment (src/lab/experiments/tying.ts).

    /usr/bin/python3 scripts/lab/tying_as_asked.py [--seeds N]
        writes src/lab/reference/tying-torch.ts (per-seed outcomes, generated: do not edit)
        and test/fixtures/lab-tying-torch.json (the same, plus seed 0's initial weights and
        loss curves, for the parity test in test/lab/tying-torch.test.ts)

The original program (the question's, quoted in issue 14): Model_1 = Embedding(10, 3) →
Linear(3, 10) → softmax; Model_2 the same with `self.embedding.weight = self.head.weight` (so the
shared Parameter is the Linear's, U(±1/√3)); both models are built *before*
`torch.manual_seed(0)`, which then draws the data: `input_indexes = torch.randint(0, 10, (2, 3))`,
one-hot targets of those six tokens; MSELoss; Adam(lr=0.001) each; 2,000 steps, the untied model
stepping first in each iteration (they do not interact). Run as written, the inits come from
an unseeded generator, so every run differs; here run k seeds the init with torch.manual_seed(k)
before building the models, then draws the data exactly as the script does.

Variants (one factor changed at a time, as in the lab):
  original          the script as written
  embedding-init    tie the other way, `self.head.weight = self.embedding.weight`: N(0, 1) survives
  no-softmax        the logits themselves against the one-hot targets
  all-ten           the ten tokens 0…9 (a (1, 10) batch) instead of the six random ones
  embedding-init+no-softmax   the two changes that flip the outcome together
  former-lab-toy    all three changed at once (the lab's toy before issue 14)
"""
import argparse
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
TS_OUT = os.path.join(ROOT, "src", "lab", "reference", "tying-torch.ts")
JSON_OUT = os.path.join(ROOT, "test", "fixtures", "lab-tying-torch.json")

STEPS = 2000
VARIANTS = {
    "original": dict(direction="head", softmax=True, tokens="six"),
    "embedding-init": dict(direction="embedding", softmax=True, tokens="six"),
    "no-softmax": dict(direction="head", softmax=False, tokens="six"),
    "all-ten": dict(direction="head", softmax=True, tokens="ten"),
    "embedding-init+no-softmax": dict(direction="embedding", softmax=False, tokens="six"),
    "former-lab-toy": dict(direction="embedding", softmax=False, tokens="ten"),
}
# MSE thresholds: 0.05 as in issue 14; without softmax over all ten tokens the best rank-3
# affine map leaves 0.06 (6 of the centred identity's 9 unit singular values), so 0.07 there.
def threshold(v):
    return 0.07 if (not v["softmax"] and v["tokens"] == "ten") else 0.05


class Model(nn.Module):
    def __init__(self, tied, direction, softmax):
        super().__init__()
        self.embedding = nn.Embedding(10, 3)
        self.head = nn.Linear(3, 10)
        self.softmax = softmax
        if tied:
            if direction == "head":
                self.embedding.weight = self.head.weight  # the script's line: the Linear's init survives
            else:
                self.head.weight = self.embedding.weight  # the other way: N(0, 1) survives

    def forward(self, x):
        out = self.head(self.embedding(x))
        return F.softmax(out, dim=-1) if self.softmax else out


def data(tokens):
    torch.manual_seed(0)
    idx = torch.randint(0, 10, (2, 3))  # the script's six tokens
    if tokens == "ten":
        idx = torch.arange(10).unsqueeze(0)
    target = F.one_hot(idx, 10).float()
    return idx, target


def run(seed, v):
    torch.manual_seed(seed)
    model_1 = Model(False, v["direction"], v["softmax"])  # untied, built first as in the script
    model_2 = Model(True, v["direction"], v["softmax"])
    init = {
        "untied.embedding": model_1.embedding.weight.detach().flatten().tolist(),
        "untied.head.weight": model_1.head.weight.detach().flatten().tolist(),
        "untied.head.bias": model_1.head.bias.detach().flatten().tolist(),
        "tied.weight": model_2.head.weight.detach().flatten().tolist(),
        "tied.head.bias": model_2.head.bias.detach().flatten().tolist(),
    }
    idx, target = data(v["tokens"])
    criterion = nn.MSELoss()
    opt_1 = torch.optim.Adam(model_1.parameters(), lr=0.001)
    opt_2 = torch.optim.Adam(model_2.parameters(), lr=0.001)
    loss_no_tying, loss_tying = [], []
    for _ in range(STEPS):
        loss = criterion(model_1(idx), target)
        opt_1.zero_grad()
        loss.backward()
        opt_1.step()
        loss_no_tying.append(loss.item())
        loss = criterion(model_2(idx), target)
        opt_2.zero_grad()
        loss.backward()
        opt_2.step()
        loss_tying.append(loss.item())
    return idx, init, loss_tying, loss_no_tying


def first_at_or_below(curve, thr):
    for i, l in enumerate(curve):
        if l <= thr:
            return i
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = {"torch": torch.__version__, "steps": STEPS, "seeds": args.seeds, "variants": {}}
    parity = {}
    for name, v in VARIANTS.items():
        thr = threshold(v)
        rows = {"threshold": thr, "stepsTied": [], "stepsUntied": [], "finalTied": [], "finalUntied": [], "startTied": [], "startUntied": []}
        for seed in range(args.seeds):
            idx, init, lt, lu = run(seed, v)
            rows["stepsTied"].append(first_at_or_below(lt, thr))
            rows["stepsUntied"].append(first_at_or_below(lu, thr))
            rows["finalTied"].append(lt[-1])
            rows["finalUntied"].append(lu[-1])
            rows["startTied"].append(lt[0])
            rows["startUntied"].append(lu[0])
            if seed == 0:
                parity[name] = {"tokens": idx.flatten().tolist(), "tokenShape": list(idx.shape), "init": init,
                                "lossTied": lt[::10], "lossUntied": lu[::10]}
        both = [(t, u) for t, u in zip(rows["stepsTied"], rows["stepsUntied"])]
        rows["tiedFirst"] = sum(1 for t, u in both if t is not None and (u is None or t < u))
        out["variants"][name] = rows
        print(f"{name:26s} thr {thr}: tied first in {rows['tiedFirst']} of {args.seeds}; "
              f"steps tied {rows['stepsTied']} untied {rows['stepsUntied']}")
    torch.manual_seed(0)
    out["originalTokens"] = torch.randint(0, 10, (2, 3)).flatten().tolist()

    os.makedirs(os.path.dirname(TS_OUT), exist_ok=True)
    with open(TS_OUT, "w") as f:
        f.write("// Generated by scripts/lab/tying_as_asked.py (PyTorch " + torch.__version__ + "); do not edit.\n")
        f.write("// Problem 5's original program run in PyTorch over seeds 0…" + str(args.seeds - 1) +
                " (the init seeded with torch.manual_seed(seed), the data drawn as the script does).\n")
        f.write("export const TYING_TORCH_REFERENCE = " + json.dumps(out, indent=1) + " as const;\n")
    with open(JSON_OUT, "w") as f:
        json.dump({**out, "parity": parity}, f)
        f.write("\n")
    print("wrote", os.path.relpath(TS_OUT, ROOT), "and", os.path.relpath(JSON_OUT, ROOT))


if __name__ == "__main__":
    main()

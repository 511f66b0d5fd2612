#!/usr/bin/env python3
"""The PyTorch baseline of `tautrain bench train --pytorch-baseline`.

The TauTransformer written as PyTorch HEP frameworks usually write it: Python, eager mode,
nn.MultiheadAttention, and every candidate padded to a fixed length per token collection
(chosen to hold all tokens of a given fraction of candidates; longer ones are cut).

Reads the benchmark spec (JSON) that tautrain writes, times training steps and inference on
the same candidates' token counts, and prints one JSON line of results. Needs only torch.
"""
import json
import math
import statistics
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F


class EncoderBlock(nn.Module):
    """Post-norm: attention, dropout, residual, LayerNorm; feed-forward (GELU), dropout, residual, LayerNorm."""

    def __init__(self, m):
        super().__init__()
        d = m["d_model"]
        self.attention = nn.MultiheadAttention(d, m["heads"], dropout=0.0, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, m["d_ff"]), nn.GELU(), nn.Linear(m["d_ff"], d))
        self.dropout = nn.Dropout(m["dropout"])

    def forward(self, x, padding):
        attended, _ = self.attention(x, x, x, key_padding_mask=padding, need_weights=False)
        x = self.norm1(x + self.dropout(attended))
        return self.norm2(x + self.dropout(self.ff(x)))


class TauTransformer(nn.Module):
    def __init__(self, spec):
        super().__init__()
        m = spec["model"]
        d, hidden, te = m["d_model"], m["embed_hidden"], m["type_embedding"]
        self.type_embedding = nn.Embedding(spec["token_types"], te)
        self.embed = nn.ModuleList(
            nn.Sequential(nn.Linear(c["inputs"] + te, hidden), nn.GELU(), nn.Linear(hidden, d))
            for c in spec["collections"])
        self.blocks = nn.ModuleList(EncoderBlock(m) for _ in range(m["layers"]))
        self.decoder = nn.Sequential(
            nn.Linear(d, m["decoder_hidden1"]), nn.GELU(),
            nn.Linear(m["decoder_hidden1"], m["decoder_hidden2"]), nn.GELU(),
            nn.Linear(m["decoder_hidden2"], 4))
        self.dropout = nn.Dropout(m["dropout"])

    def forward(self, features, types, padding):
        x = torch.cat([embed(torch.cat([f, self.type_embedding(t)], -1))
                       for embed, f, t in zip(self.embed, features, types)], 1)
        padding = torch.cat(padding, 1)
        x = self.dropout(x)
        for block in self.blocks:
            x = block(x, padding)
        return self.decoder(x.masked_fill(padding.unsqueeze(-1), 0.0).sum(1))


def fixed_length(counts, coverage):
    """Smallest length holding every token of `coverage` of the candidates, rounded up to 8."""
    ordered = sorted(counts)
    needed = ordered[max(0, math.ceil(coverage * len(ordered)) - 1)]
    return max(1, 8 * math.ceil(needed / 8)) if max(ordered) > 1 else 1


def make_batches(spec, lengths, device):
    """Batches of the timed candidates in their order; random values, real token counts."""
    counts = [torch.tensor(c["tokens"], dtype=torch.long) for c in spec["collections"]]
    n, size = len(counts[0]), spec["batch_size"]
    generator = torch.Generator().manual_seed(spec["seed"])
    batches = []
    for start in range(0, n - size + 1, size):
        features, types, padding = [], [], []
        for c, count, length in zip(spec["collections"], counts, lengths):
            real = count[start:start + size].clamp(max=length)
            padding.append((torch.arange(length).unsqueeze(0) >= real.unsqueeze(1)).to(device))
            features.append(torch.randn(size, length, c["inputs"], generator=generator).to(device))
            types.append(torch.randint(0, spec["token_types"], (size, length), generator=generator).to(device))
        labels = torch.randint(0, 4, (size,), generator=generator).to(device)
        batches.append((features, types, padding, labels))
    return batches


def rate(batches, warmup, device, work):
    """Candidates/s over the batches after the first `warmup`, with the device synchronised."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for batch in batches[:warmup]:
        work(batch)
    sync()
    start = time.perf_counter()
    for batch in batches[warmup:]:
        work(batch)
    sync()
    return sum(len(b[3]) for b in batches[warmup:]) / (time.perf_counter() - start)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: pytorch_baseline.py SPEC.json (tautrain bench train --pytorch-baseline writes it)")
    try:
        with open(sys.argv[1]) as file:
            spec = json.load(file)
    except (OSError, ValueError) as error:
        sys.exit(f"pytorch_baseline: cannot read the spec {sys.argv[1]}: {error}")
    device = torch.device(spec["device"])
    torch.set_num_threads(spec["threads"])
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = spec["allow_tf32"]
    autocast = spec["precision"] == "bf16" and device.type == "cuda"
    torch.manual_seed(spec["seed"])
    model = TauTransformer(spec).to(device)
    parameters = sum(p.numel() for p in model.parameters())
    lengths = [1 if c["per_candidate"] else fixed_length(c["tokens"], spec["coverage"]) for c in spec["collections"]]
    batches = make_batches(spec, lengths, device)
    needed = spec["warmup_steps"] + 1
    if len(batches) < needed:
        sys.exit(f"pytorch_baseline: {len(batches)} batches of {spec['batch_size']}; need at least {needed}")
    real = sum(min(n, L) for c, L in zip(spec["collections"], lengths) for n in c["tokens"][:len(batches) * spec["batch_size"]])
    padded = len(batches) * spec["batch_size"] * sum(lengths)

    optimizer = torch.optim.Adam(model.parameters(), lr=spec["learning_rate"])

    def train_step(batch):
        features, types, padding, labels = batch
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = F.cross_entropy(model(features, types, padding).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def infer(batch):
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            model(*batch[:3])

    train_rates, infer_rates = [], []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(spec["rounds"]):
        model.train()
        train_rates.append(rate(batches, spec["warmup_steps"], device, train_step))
        model.eval()
        infer_rates.append(rate(batches, spec["warmup_steps"], device, infer))
    print(json.dumps({
        "torch": torch.__version__,
        "parameters": parameters,
        "fixed_length": lengths,
        "padding_efficiency": real / padded,
        "train_candidates_per_s": statistics.median(train_rates),
        "infer_candidates_per_s": statistics.median(infer_rates),
        "peak_memory_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else -1,
    }))


if __name__ == "__main__":
    main()

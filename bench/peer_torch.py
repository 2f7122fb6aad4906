"""PyTorch peer for `npm run bench` (bench/peers.ts runs it with Debian's /usr/bin/python3; on a GPU machine
IVC_PEER_PYTHON and IVC_PEER_DEVICE=cuda pick that machine's python and its CUDA device).

The same workloads as the ivc side, same shapes, f32, random weights:
  matmul_1024                   torch.mm 1024^3
  elementwise_4m                x * sigmoid(1.702 x) * y over 4M values
  vit_block_step                pre-LN block (dim 256, 4 heads, MLP x4, exact GELU) on [2, 392, 256],
                                loss mean(y^2), backward, AdamW step
  uniformerv2_tiny_step         the `tiny` preset of models/uniformerv2.ivm (scripts/fixtures/uniformerv2_ref.py:
                                LMHRA, temporal-stride-2 embedding, width 64) on 8 clips of 8x32x32, stage
                                finetune's recipe: label smoothing 0.1, clipping at 20, AdamW (no decay on 1-D)
  uniformerv2_k400_b16_forward  UniFormerV2-B/16 K400 forward on one 8x224 clip: CLIP ViT-B/16 per frame,
                                DPE + cross-attention global blocks on the last 4 layers, fusion, head
Prints one JSON object per line: {"workload", "median", "min", "max", "unit": "ms", "runs", "name"}.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


def timed(fn, runs, warmup, sync=lambda: None):
    """Wall time per call; `sync` waits for the device (CUDA launches are asynchronous)."""
    for _ in range(warmup):
        fn()
    sync()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        sync()
        out.append((time.perf_counter() - t0) * 1000)
    return out


class Attention(nn.Module):
    """Fused qkv projection as nn.MultiheadAttention / the .ivm MultiheadAttention."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.in_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.in_proj(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        s = (q * (c // self.heads) ** -0.5) @ k.transpose(-1, -2)
        return self.out_proj((s.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, width, heads, act):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.fc = nn.Linear(width, 4 * width)
        self.proj = nn.Linear(4 * width, width)
        self.act = act

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.proj(self.act(self.fc(self.ln_2(x))))


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


class CrossBlock(nn.Module):
    """UniFormerV2 global block: the query attends to all tokens of the clip."""

    def __init__(self, width, heads):
        super().__init__()
        self.ln_1, self.ln_2, self.ln_3 = nn.LayerNorm(width), nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.fc = nn.Linear(width, 4 * width)
        self.proj = nn.Linear(4 * width, width)

    def forward(self, q, kv):
        y = self.ln_3(kv)
        q = q + self.attn(self.ln_1(q), y, y, need_weights=False)[0]
        return q + self.proj(quick_gelu(self.fc(self.ln_2(q))))


class UniFormerV2B16(nn.Module):
    def __init__(self, frames=8, size=224, patch=16, width=768, layers=12, heads=12, n_global=4, classes=400):
        super().__init__()
        self.t, self.grid = frames, size // patch
        self.conv1 = nn.Conv3d(3, width, (1, patch, patch), (1, patch, patch), bias=False)
        self.cls = nn.Parameter(torch.randn(width) * width**-0.5)
        self.pos = nn.Parameter(torch.randn(self.grid**2 + 1, width) * width**-0.5)
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList(Block(width, heads, quick_gelu) for _ in range(layers))
        self.first_global = layers - n_global
        self.dpe = nn.ModuleList(nn.Conv3d(width, width, 3, padding=1, groups=width) for _ in range(n_global))
        self.dec = nn.ModuleList(CrossBlock(width, heads) for _ in range(n_global))
        self.query = nn.Parameter(torch.zeros(1, 1, width))
        self.balance = nn.Parameter(torch.zeros(width))
        self.ln_post = nn.LayerNorm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, clip):
        b = clip.shape[0]
        x = self.conv1((clip - 0.45) / 0.225)  # b c t h w
        c = x.shape[1]
        x = x.permute(0, 2, 3, 4, 1).reshape(b * self.t, -1, c)
        x = torch.cat([self.cls.expand(b * self.t, 1, c), x], 1) + self.pos
        x = self.ln_pre(x)
        q = self.query.expand(b, 1, c)
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if i >= self.first_global:
                j = i - self.first_global
                vol = x[:, 1:].reshape(b, self.t, self.grid, self.grid, c).permute(0, 4, 1, 2, 3)
                vol = vol + self.dpe[j](vol)
                frames = torch.cat([x[:, :1], vol.permute(0, 2, 3, 4, 1).reshape(b * self.t, -1, c)], 1)
                q = self.dec[j](q, frames.reshape(b, -1, c))
        w = torch.sigmoid(self.balance)
        z = (1 - w) * q[:, 0] + w * x[:, 0].reshape(b, self.t, c).mean(1)
        return self.head(self.ln_post(z))


def workloads(dev):
    def matmul():
        a, b = torch.randn(1024, 1024, device=dev), torch.randn(1024, 1024, device=dev)
        return lambda: torch.mm(a, b)

    def elementwise():
        x, y = torch.randn(4 * 2**20, device=dev), torch.randn(4 * 2**20, device=dev)
        return lambda: x * torch.sigmoid(1.702 * x) * y

    def vit_step():
        model = Block(256, 4, lambda t: F.gelu(t)).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
        x = torch.randn(2, 392, 256, device=dev)

        def step():
            opt.zero_grad(set_to_none=True)
            model(x).pow(2).mean().backward()
            opt.step()

        return step

    def tiny_step():
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts" / "fixtures"))
        from uniformerv2_ref import build

        model = build(frames=8, size=32, patch=8, width=64, layers=4, heads=4, global_layers=2, classes=10,
                      lmhra=True, temporal_downsample=True, mlp_dropout=0.1, dropout=0.1).to(dev).train()
        decay = [p for n, p in model.named_parameters() if p.ndim > 1 and not n.endswith(".bias")]
        rest = [p for n, p in model.named_parameters() if not (p.ndim > 1 and not n.endswith(".bias"))]
        opt = torch.optim.AdamW([dict(params=decay, weight_decay=0.05), dict(params=rest, weight_decay=0.0)], lr=1e-3)
        clip = torch.rand(8, 3, 8, 32, 32, device=dev)
        label = torch.randint(0, 10, (8,), device=dev)

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model((clip - 0.45) / 0.225), label, label_smoothing=0.1).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 20.0)
            opt.step()

        return step

    def b16_forward():
        model = UniFormerV2B16().to(dev).eval()
        clip = torch.rand(1, 3, 8, 224, 224, device=dev)

        def run():
            with torch.no_grad():
                model(clip)

        return run

    return {
        "matmul_1024": matmul,
        "elementwise_4m": elementwise,
        "vit_block_step": vit_step,
        "uniformerv2_tiny_step": tiny_step,
        "uniformerv2_k400_b16_forward": b16_forward,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda on a machine with an NVIDIA GPU")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        for w in [n for n in args.only.split(",") if n] or ["all"]:
            print(json.dumps({"workload": w, "skipped": "torch.cuda is not available"}), flush=True)
        return 0
    torch.manual_seed(0)
    # Both peers get the machine's two cores (lavapipe uses both); torch's default here is 1.
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    table = workloads(dev)
    names = [n for n in args.only.split(",") if n] or list(table)
    if dev.type == "cuda":
        name = f"pytorch {torch.__version__.split('+')[0]} cuda, {torch.cuda.get_device_name(dev)}"
        sync = torch.cuda.synchronize
    else:
        name = f"pytorch {torch.__version__.split('+')[0]} cpu, {torch.get_num_threads()} threads"
        sync = lambda: None
    for w in names:
        if w not in table:
            print(json.dumps({"workload": w, "skipped": "no pytorch peer for this workload"}), flush=True)
            continue
        samples = timed(table[w](), args.runs, args.warmup, sync)
        print(json.dumps({"workload": w, "median": statistics.median(samples), "min": min(samples), "max": max(samples),
                          "unit": "ms", "runs": len(samples), "name": name}), flush=True)


if __name__ == "__main__":
    sys.exit(main())

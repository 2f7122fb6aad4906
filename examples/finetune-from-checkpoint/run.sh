#!/usr/bin/env bash
# Fine-tune UniFormerV2 (tiny) from a checkpoint on a folder of PNG frames.
#   bash examples/finetune-from-checkpoint/run.sh          # tiny and short: what CI runs
#   STEPS=300 ENGINE=gpu bash examples/finetune-from-checkpoint/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-examples/finetune-from-checkpoint/out}"
STEPS="${STEPS:-2}"
ENGINE="${ENGINE:-cpu}"
rm -rf "$OUT" && mkdir -p "$OUT"
ivc() { node bin/ivc.mjs "$@"; }

# 1. The dataset: clip folders of PNG frames, train.txt / val.txt with `path label` lines.
npx tsx examples/finetune-from-checkpoint/make_frames.ts "$OUT/data" 16 8

# 2. A checkpoint to start from. Here a short run on the synthetic data; an imported official
#    checkpoint (ivc import, docs/checkpoints.md) is used the same way.
ivc train models/uniformerv2.ivm --preset tiny --stage finetune --set classes=4 \
  --steps "$STEPS" --batch 2 --eval-every "$STEPS" --eval-clips 4 --log-every 1 --engine "$ENGINE" \
  --out "$OUT/pretrain"

# 3. Fine-tune from it on the frame folders: --init copies weights by parameter path and starts a
#    new optimizer; --data points at the folder holding train.txt and val.txt.
ivc train models/uniformerv2.ivm --preset tiny --stage finetune --set classes=4 \
  --init "$OUT/pretrain/checkpoint.safetensors" --data "$OUT/data" \
  --steps "$STEPS" --batch 2 --eval-every "$STEPS" --eval-clips 8 --log-every 1 --engine "$ENGINE" \
  --out "$OUT/finetune"

# 4. Classify one clip folder with the fine-tuned weights. A training checkpoint also holds the
#    optimizer state (optim.*), which ivc run does not use: --ignore-extra says that is expected.
ivc run models/uniformerv2.ivm --preset tiny --set classes=4 \
  --weights "$OUT/finetune/checkpoint.safetensors" --input "$OUT/data/val/clip_000" --engine "$ENGINE" --top 2 --ignore-extra

#!/usr/bin/env bash
# The commands of docs/tutorial.md on examples/tutorial/video_transformer.ivm.
#   bash examples/tutorial/run.sh                          # tiny and short: what CI runs
#   STEPS=200 ENGINE=gpu bash examples/tutorial/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-examples/tutorial/out}"
STEPS="${STEPS:-4}"
ENGINE="${ENGINE:-cpu}"
MODEL=examples/tutorial/video_transformer.ivm
rm -rf "$OUT" && mkdir -p "$OUT"
ivc() { node bin/ivc.mjs "$@"; }

ivc check "$MODEL" --preset tiny
ivc info "$MODEL" --preset tiny
ivc graph "$MODEL" --preset tiny --depth 3 -o "$OUT/model.svg"
ivc train "$MODEL" --preset tiny --steps "$STEPS" --batch 2 --eval-every "$STEPS" --eval-clips 4 \
  --log-every 2 --engine "$ENGINE" --out "$OUT/run"
ivc compile "$MODEL" --preset tiny -o "$OUT/bundle" --weights "$OUT/run/checkpoint.safetensors"

#!/usr/bin/env bash
# A custom temporal block on UniFormerV2: check it, see where it sits, train both stages briefly.
#   bash examples/custom-block/run.sh                      # tiny and short: what CI runs
#   STEPS=100 ENGINE=gpu bash examples/custom-block/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-examples/custom-block/out}"
STEPS="${STEPS:-2}"
ENGINE="${ENGINE:-cpu}"
MODEL=examples/custom-block/motion_uniformerv2.ivm
rm -rf "$OUT" && mkdir -p "$OUT"
ivc() { node bin/ivc.mjs "$@"; }

ivc check "$MODEL" --preset tiny
# Stage motion_only freezes the backbone: 1,480 of 47,400 parameters train.
ivc info "$MODEL" --preset tiny --stage motion_only --depth 1
# The picture: the new `motion` box between the embedding and the transformer, the backbone hatched.
ivc graph "$MODEL" --preset tiny --stage motion_only --depth 3 -o "$OUT/motion_only.svg"

# Both stages in order (no --stage): finetune starts from motion_only's weights.
ivc train "$MODEL" --preset tiny --steps "$STEPS" --batch 2 --eval-every "$STEPS" --eval-clips 4 \
  --log-every 1 --engine "$ENGINE" --out "$OUT/runs"

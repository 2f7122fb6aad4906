#!/usr/bin/env bash
# Train the tutorial model briefly, compile it to a bundle with its weights, and run the bundle from
# a plain Node script (main.mjs) that does not import ivc.
#   bash examples/bundle-from-node/run.sh                  # tiny and short: what CI runs
#   STEPS=200 ENGINE=gpu bash examples/bundle-from-node/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-examples/bundle-from-node/out}"
STEPS="${STEPS:-2}"
ENGINE="${ENGINE:-cpu}"
# Inside the repository, so the bundle's `import "webgpu"` resolves from its node_modules.
BUNDLE="${BUNDLE:-examples/bundle-from-node/build/video-transformer}"
rm -rf "$OUT" && mkdir -p "$OUT"
ivc() { node bin/ivc.mjs "$@"; }

ivc train examples/tutorial/video_transformer.ivm --preset tiny --steps "$STEPS" --batch 2 \
  --eval-every "$STEPS" --eval-clips 4 --log-every 1 --engine "$ENGINE" --out "$OUT/run"

# The checkpoint's optimizer state is not a parameter: compile keeps the weights and warns about the rest.
ivc compile examples/tutorial/video_transformer.ivm --preset tiny -o "$BUNDLE" \
  --weights "$OUT/run/checkpoint.safetensors"

node examples/bundle-from-node/main.mjs "$BUNDLE"

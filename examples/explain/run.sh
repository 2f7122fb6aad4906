#!/usr/bin/env bash
# Print what the compiler made of the tutorial model: the per-kernel table of `ivc compile --explain`
# for the eval forward and for the training step, and the kernel picture of `ivc graph --kernels`.
#   bash examples/explain/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-examples/explain/out}"
MODEL=examples/tutorial/video_transformer.ivm
rm -rf "$OUT" && mkdir -p "$OUT"
ivc() { node bin/ivc.mjs "$@"; }

echo "== eval forward, batch 1 =="
ivc compile "$MODEL" --preset tiny -o "$OUT/eval" --explain | tee "$OUT/eval.txt"

echo "== training step of stage train, batch 2 =="
ivc compile "$MODEL" --preset tiny --stage train --train --batch 2 -o "$OUT/train" --explain > "$OUT/train.txt"
# The table has one row per dispatch; the tail has the totals and the dispatch counts per kind and pass.
tail -n 4 "$OUT/train.txt"
# Columns: kernel, kind, pass, ...; count the rows of each pass.
awk '$3 ~ /^(forward|backward|optimizer)$/ { n[$3]++ } END { printf "forward %d, backward %d, optimizer %d kernels\n", n["forward"], n["backward"], n["optimizer"] }' "$OUT/train.txt"

# The same kernels drawn inside the modules they belong to (open the SVG in a browser).
ivc graph "$MODEL" --preset tiny --kernels --depth 2 -o "$OUT/kernels.svg"

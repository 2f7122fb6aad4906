#!/bin/bash
# On the NVIDIA machine (device tool, carry [".gpu"] made by scripts/gpu/prepare.sh): unpack, check the
# adapter, then `npm run bench` on Dawn's Vulkan backend with PyTorch CUDA beside it, and the test files
# that run kernels on Dawn. Results under $OUT (bench-gpu.json, bench.log, doctor.txt, tests.log).
# Measured 2026-11-26 on an H200: about 60 s in all after a ~30 s machine start.
T0=$(date +%s)
for f in .gpu/*.deb; do dpkg -x "$f" /; done; ldconfig
unxz_() { if command -v xz >/dev/null; then xz -dc "$1"; else python3 -c "import lzma,sys,shutil; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)" "$1"; fi; }
unxz_ .gpu/node.xz > /usr/local/bin/node && chmod +x /usr/local/bin/node
unxz_ .gpu/app.tar.xz | tar xf -
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json XDG_RUNTIME_DIR=/tmp
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
OUT=${OUT:-/tmp/ivc-gpu-out}; mkdir -p "$OUT"
TSX="node node_modules/tsx/dist/cli.mjs"
echo "unpacked in $(( $(date +%s) - T0 )) s"
if ! node bin/ivc.mjs doctor > "$OUT/doctor.txt" 2>&1; then
  cat "$OUT/doctor.txt"; ldconfig -p | grep -i "nvidia\|vulkan\|GLdispatch" | head -30
  VK_LOADER_DEBUG=error,warn node bin/ivc.mjs doctor 2>&1 | tail -40
  exit 3
fi
cat "$OUT/doctor.txt"
# The machine's python (with CUDA torch) is not /usr/bin/python3: name it by its full path.
IVC_PEER_PYTHON=$(command -v python3) IVC_PEER_DEVICE=cuda timeout 170 $TSX bench/run.ts --out "$OUT/bench-gpu.json" > "$OUT/bench.log" 2>&1
echo "bench rc $? at $(( $(date +%s) - T0 )) s"; grep -v "^    at " "$OUT/bench.log" | tail -20
# test/bundle's typecheck test needs the native TypeScript that prepare.sh leaves out: expect it to fail.
timeout 80 node node_modules/vitest/vitest.mjs run --maxWorkers 8 test/backend test/kernels test/gpu-train test/parity test/bundle > "$OUT/tests.log" 2>&1
echo "tests rc $?"; grep -E "Test Files|Tests |FAIL" "$OUT/tests.log" | head -30
echo "total $(( $(date +%s) - T0 )) s"

/**
 * The optional PyTorch CPU peer: bench/peer_torch.py under Debian's /usr/bin/python3 (the one with
 * python3-torch; never a pyenv interpreter on PATH). Missing python or torch skips the peer with a note.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { BenchResult, PeerFigure } from "./harness.ts";
import { repoPath } from "./common.ts";

/** IVC_PEER_PYTHON overrides it (a GPU machine's python with CUDA torch); IVC_PEER_DEVICE=cuda times on the GPU. */
export const PYTHON = process.env.IVC_PEER_PYTHON || "/usr/bin/python3";
const PEER_DEVICE = process.env.IVC_PEER_DEVICE || "cpu";
/** The workloads peer_torch.py implements. */
export const TORCH_WORKLOADS = ["matmul_1024", "elementwise_4m", "vit_block_step", "uniformerv2_tiny_step", "uniformerv2_k400_b16_forward"];

export type PeerOutcome = { readonly ok: true; readonly figure: Omit<PeerFigure, "ratio"> } | { readonly ok: false; readonly reason: string };

let available: string | true | undefined;

/** True, or why the peer cannot run here. */
export function torchAvailable(): string | true {
  if (available !== undefined) return available;
  // A bare command name ("python3") is looked up on PATH by spawnSync.
  if (PYTHON.includes("/") && !existsSync(PYTHON)) return (available = `${PYTHON} not found`);
  const r = spawnSync(PYTHON, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8", timeout: 60_000 });
  available = r.status === 0 ? true : `torch does not import under ${PYTHON}: ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}`;
  return available;
}

/** Runs one workload on the peer (a fresh process: each figure is taken right after the ivc one, under the same load). */
export function runTorchPeer(workload: string, runs: number, warmup: number, timeoutMs = 900_000): PeerOutcome {
  if (!TORCH_WORKLOADS.includes(workload)) return { ok: false, reason: "no pytorch peer for this workload" };
  const why = torchAvailable();
  if (why !== true) return { ok: false, reason: why };
  const r = spawnSync(PYTHON, [repoPath("bench/peer_torch.py"), "--only", workload, "--runs", String(runs), "--warmup", String(warmup), "--device", PEER_DEVICE], {
    encoding: "utf8",
    timeout: timeoutMs,
  });
  if (r.status !== 0) return { ok: false, reason: `peer_torch.py failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split("\n").pop()}` };
  for (const line of r.stdout.split("\n")) {
    if (!line.trim()) continue;
    const o = JSON.parse(line) as { workload: string; median?: number; min?: number; max?: number; unit?: string; name?: string; skipped?: string };
    if (o.workload !== workload) continue;
    if (o.skipped || o.median === undefined) return { ok: false, reason: o.skipped ?? "no figure" };
    return { ok: true, figure: { name: o.name!, median: o.median, min: o.min!, max: o.max!, unit: o.unit! } };
  }
  return { ok: false, reason: "peer_torch.py printed no figure" };
}

/** The result with the peer beside it (ratio = ivc median / peer median, both in ms). */
export function withPeer(r: BenchResult, outcome: PeerOutcome): BenchResult {
  if (!outcome.ok) return { ...r, notes: [r.notes, `peer skipped: ${outcome.reason}`].filter(Boolean).join("; ") };
  const ours = r.unit === "s" ? r.median * 1000 : r.median;
  return { ...r, peer: { ...outcome.figure, ratio: ours / outcome.figure.median } };
}

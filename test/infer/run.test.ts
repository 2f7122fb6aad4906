import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCheckpoint } from "../../runtime/io/checkpoint.ts";
import { readNpy, writeNpy } from "../../runtime/io/npy.ts";
import { relativeError } from "../parity/parity-helpers.ts";
import { fixturePath, ivc, modelArgs, parityCase } from "./cli-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "ivc-run-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cls = parityCase("videomae_tiny_cls");
const expected = readNpy(fixturePath(cls.outputs.logits!.file)).data as Float32Array;

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

// The GPU case compiles its kernels on lavapipe when the pipeline cache is cold (a minute under load).
describe("ivc run on a parity fixture", { timeout: 180_000 }, () => {
  for (const [format, engine] of [
    ["pth", "gpu"],
    ["safetensors", "cpu"],
  ] as const) {
    it(`${format} weights on the ${engine} engine: --json top-5 and the written logits match PyTorch`, async () => {
      const out = join(dir, `${format}.npy`);
      const r = await ivc(
        "run",
        ...modelArgs(cls),
        "--weights",
        fixturePath(cls.checkpoint[format]),
        "--input",
        fixturePath(cls.inputs.clip!.file),
        "--output",
        out,
        "--json",
        "--engine",
        engine,
      );
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.engine).toBe(engine);
      expect(report.output.shape).toEqual([2, 10]);
      const logits = readNpy(out);
      expect(logits.shape).toEqual([2, 10]);
      expect(relativeError(logits.data as Float32Array, expected)).toBeLessThan(1e-4);
      expect(report.predictions).toHaveLength(2);
      for (let b = 0; b < 2; b++) {
        const top = report.predictions[b] as { index: number; probability: number }[];
        expect(top).toHaveLength(5);
        expect(top[0]!.index).toBe(argmax(expected.subarray(b * 10, b * 10 + 10)));
        expect(top[0]!.probability).toBeGreaterThan(top[4]!.probability);
      }
      expect(report.mapping.join("\n")).toContain("regenerated from @init (not stored in checkpoints): pos_embed");
    });
  }

  it("without a Vulkan driver the gpu engine falls back to the interpreter with a one-line note", () => {
    // A separate process: Dawn reads the driver list once per process.
    const args = [
      "bin/ivc.mjs",
      "run",
      ...modelArgs(cls),
      "--weights",
      fixturePath(cls.checkpoint.pth),
      "--input",
      fixturePath(cls.inputs.clip!.file),
      "--json",
    ];
    const r = spawnSync(process.execPath, args, {
      encoding: "utf8",
      env: { ...process.env, VK_ICD_FILENAMES: join(dir, "no-driver.json"), XDG_RUNTIME_DIR: "/tmp" },
    });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.engine).toBe("cpu");
    expect(report.notes).toHaveLength(1);
    expect(report.notes[0]).toMatch(/^note: no WebGPU adapter found.*; running on the CPU interpreter instead \(slow\)$/);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("note:"))).toHaveLength(1);
  });

  for (const c of ["uniformerv2_k400_tiny", "uniformerv2_ssv2_tiny", "uniformerv2_frozen_tiny"].map(parityCase)) {
    it(`${c.name}: the official .pth on the interpreter reproduces PyTorch's logits`, async () => {
      const out = join(dir, `${c.name}.npy`);
      const r = await ivc(
        "run",
        ...modelArgs(c),
        "--weights",
        fixturePath(c.checkpoint.pth),
        "--input",
        fixturePath(c.inputs.clip!.file),
        "--output",
        out,
        "--engine",
        "cpu",
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain("official UniFormerV2 checkpoint (backbone.*) -> uniformerv2");
      expect(
        relativeError(readNpy(out).data as Float32Array, readNpy(fixturePath(c.outputs.logits!.file)).data as Float32Array),
      ).toBeLessThan(1e-4);
    });
  }

  it("prints top-k as text, one line per clip", async () => {
    const r = await ivc(
      "run",
      ...modelArgs(cls),
      "--weights",
      fixturePath(cls.checkpoint.pth),
      "--input",
      fixturePath(cls.inputs.clip!.file),
      "--engine",
      "cpu",
      "--top",
      "3",
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^VideoMAE on cpu: output \[2, 10\]/);
    expect(lines[1]).toMatch(/^clip 0: +\d+ 0\.\d{4} +\d+ 0\.\d{4} +\d+ 0\.\d{4}$/);
    expect(r.stderr).toContain("VideoMAE fine-tuned classifier");
  });

  it("the pretraining model takes its extra inputs by name and reproduces the loss", async () => {
    const pre = parityCase("videomae_tiny_pretrain");
    const base = [
      "run",
      ...modelArgs(pre),
      "--weights",
      fixturePath(pre.checkpoint.safetensors),
      "--input",
      fixturePath(pre.inputs.clip!.file),
      "--engine",
      "cpu",
    ];
    const lacking = await ivc(...base);
    expect(lacking.code).toBe(1);
    expect(lacking.stderr).toContain("the model also takes vis_idx: i32[B, 16], mask_idx: i32[B, 48]");
    expect(lacking.stderr).toContain("--input vis_idx=FILE.npy --input mask_idx=FILE.npy");
    const r = await ivc(
      ...base,
      "--input",
      `vis_idx=${fixturePath(pre.inputs.vis_idx!.file)}`,
      "--input",
      `mask_idx=${fixturePath(pre.inputs.mask_idx!.file)}`,
      "--json",
    );
    expect(r.code, r.stderr).toBe(0);
    const loss = (readNpy(fixturePath(pre.outputs.loss!.file)).data as Float32Array)[0]!;
    const report = JSON.parse(r.stdout);
    expect(report.output.shape).toEqual([]);
    expect(Math.abs(report.values[0] - loss)).toBeLessThan(1e-4 * Math.abs(loss));
  });
});

describe("ivc import", () => {
  const importArgs = [
    "--model",
    cls.model_file,
    "--model-name",
    cls.model,
    "--preset",
    cls.preset,
    ...cls.set.flatMap((s) => ["--set", s]),
  ];

  it("converts an official .pth to the model's names; ivc run loads the result", async () => {
    const out = join(dir, "imported.safetensors");
    const r = await ivc("import", fixturePath(cls.checkpoint.pth), ...importArgs, "-o", out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/every key \(identity\): 32 tensors/);
    expect(r.stdout).toMatch(/wrote 33 tensors \([\d,]+ values\) to .*imported\.safetensors/);
    const written = readCheckpoint(out);
    expect(written.metadata.format).toBe("ivc");
    expect(written.tensors.has("pos_embed")).toBe(true);
    const npy = join(dir, "imported.npy");
    const run = await ivc(
      "run",
      ...modelArgs(cls),
      "--weights",
      out,
      "--input",
      fixturePath(cls.inputs.clip!.file),
      "--output",
      npy,
      "--engine",
      "cpu",
    );
    expect(run.code, run.stderr).toBe(0);
    expect(relativeError(readNpy(npy).data as Float32Array, expected)).toBeLessThan(1e-4);
  });

  it("an unwritable output is a UserError, and -o must be a .safetensors file", async () => {
    const r = await ivc("import", fixturePath(cls.checkpoint.pth), ...importArgs, "-o", "/proc/ivc-test.safetensors");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot write \/proc\/ivc-test\.safetensors/);
    expect((await ivc("import", fixturePath(cls.checkpoint.pth), ...importArgs, "-o", join(dir, "w.pth"))).code).toBe(2);
  });

  it("a pretraining checkpoint needs --init-missing for the classifier head", async () => {
    const pre = fixturePath(parityCase("videomae_tiny_pretrain").checkpoint.pth);
    const out = join(dir, "from-pretrain.safetensors");
    const refused = await ivc("import", pre, ...importArgs, "-o", out);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("head.weight [10, 16]");
    expect(refused.stderr).toContain("--init-missing");
    const r = await ivc("import", pre, ...importArgs, "-o", out, "--init-missing", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).initialised).toEqual(["fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"]);
  });
});

describe("ivc run reports bad input without a stack trace", () => {
  const run = (...extra: string[]) => ivc("run", ...modelArgs(cls), "--engine", "cpu", ...extra);
  const clip = fixturePath(cls.inputs.clip!.file);

  it("a missing input file", async () => {
    const r = await run("--weights", fixturePath(cls.checkpoint.pth), "--input", join(dir, "missing.mp4"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: input not found: .*missing\.mp4/);
  });

  it("a clip of the wrong shape", async () => {
    const bad = join(dir, "short.npy");
    writeNpy(bad, { dtype: "f4", shape: [1, 3, 4, 16, 16], data: new Float32Array(3 * 4 * 256) });
    const r = await run("--weights", fixturePath(cls.checkpoint.pth), "--input", bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("has shape [1, 3, 4, 16, 16], but the model's input `clip` is f32[B, 3, 8, 16, 16]");
  });

  it("a missing checkpoint and weights of another configuration", async () => {
    const missing = await run("--weights", join(dir, "nope.pth"), "--input", clip);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/checkpoint file not found/);
    const wrong = await ivc(
      "run",
      ...modelArgs(cls),
      "--set",
      "width=32",
      "--weights",
      fixturePath(cls.checkpoint.pth),
      "--input",
      clip,
      "--engine",
      "cpu",
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(
      "patch_embed.proj.weight: the model expects [32, 3, 2, 4, 4], the checkpoint's patch_embed.proj.weight is [16, 3, 2, 4, 4]",
    );
    for (const r of [missing, wrong]) expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  });

  it("usage errors exit 2", async () => {
    expect((await run("--input", clip)).code).toBe(2);
    expect((await run("--weights", fixturePath(cls.checkpoint.pth), "--input", clip, "--engine", "tpu")).code).toBe(2);
  });
});

/**
 * K710 -> K400/K600/K700 head remapping (`--remap-head`): a checkpoint whose classifier has more rows
 * than the model's classes keeps the rows the list names, in its order; the list and its fit are
 * checked with catalog errors. Also: CLIP's BPE token embedding loads once the model's vocabulary
 * has its 49408 rows.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { LoadedTensor } from "../../runtime/io/dtype.ts";
import { readSafetensors, type TensorToWrite, writeSafetensors } from "../../runtime/io/safetensors.ts";
import { isHeadPath, K400_FROM_K710, readHeadRemap } from "../../runtime/weights/head-remap.ts";
import { loadWeights, mapCheckpoint } from "../../runtime/weights/index.ts";
import { expectCatalogError } from "../diagnostics/catalog-error.ts";
import { ivc, modelArgs, parityCase } from "../infer/cli-helpers.ts";
import { caseParams, caseTensors, INTERNVIDEO_SET, internVideoParams, paramsOf, rekey, tensor } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "ivc-remap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const WEIGHT = "backbone.transformer.proj.2.weight";
const BIAS = "backbone.transformer.proj.2.bias";
const WIDTH = 16; // the parity fixtures' backbone width

/** The k400 parity checkpoint with a `rows`-class head whose row r holds the value r everywhere. */
function withHead(rows: number): Map<string, LoadedTensor> {
  const tensors = caseTensors("uniformerv2_k400_tiny");
  tensors.set(WEIGHT, { shape: [rows, WIDTH], dtype: "F32", data: Float32Array.from({ length: rows * WIDTH }, (_, i) => Math.floor(i / WIDTH)) });
  tensors.set(BIAS, { shape: [rows], dtype: "F32", data: Float32Array.from({ length: rows }, (_, r) => r) });
  return tensors;
}

/** The head row ids a loaded weight holds (each row is constant). */
const headRows = (weight: Float32Array | Int32Array) => Array.from({ length: weight.length / WIDTH }, (_, i) => weight[i * WIDTH]);

function writeCheckpoint(name: string, tensors: ReadonlyMap<string, LoadedTensor>): string {
  const file = join(dir, name);
  const out = new Map<string, TensorToWrite>();
  for (const [k, t] of tensors) out.set(k, { dtype: "F32", shape: t.shape, data: t.data as Float32Array });
  writeSafetensors(file, out);
  return file;
}

function writeJson(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe("head remap lists", () => {
  it("k400 is the first 400 rows; a file is one JSON list of row indices", () => {
    expect(readHeadRemap("k400")).toBe(K400_FROM_K710);
    expect(K400_FROM_K710.rows.slice(0, 3)).toEqual([0, 1, 2]);
    expect(K400_FROM_K710.rows.length).toBe(400);
    const file = writeJson("map.json", "[4, 0, 7]\n");
    expect(readHeadRemap(file)).toEqual({ source: file, rows: [4, 0, 7] });
  });

  it("IV6007 for a missing file, text that is not JSON, no list, or an entry that is not a row index", () => {
    expectCatalogError(() => readHeadRemap(join(dir, "none.json")), "IV6007", /none\.json`: no such file/);
    expectCatalogError(() => readHeadRemap(writeJson("bad.json", "[1, 2,")), "IV6007", /not JSON/);
    expectCatalogError(() => readHeadRemap(writeJson("dict.json", '{"a": 1}')), "IV6007", /one non-empty JSON list/);
    expectCatalogError(() => readHeadRemap(writeJson("empty.json", "[]")), "IV6007", /one non-empty JSON list/);
    expectCatalogError(() => readHeadRemap(writeJson("neg.json", "[0, -1]")), "IV6007", /entry 1 is -1, not a row index/);
    expectCatalogError(() => readHeadRemap(writeJson("str.json", '[0, "3"]')), "IV6007", /entry 1 is "3"/);
  });
});

describe("mapping a head with more classes than the model", () => {
  const params = caseParams("uniformerv2_k400_tiny", ["classes=3"]);

  it("keeps the listed rows, in the list's order, for weight and bias", () => {
    const r = mapCheckpoint(withHead(7), params, { remapHead: { source: "mine.json", rows: [5, 0, 2] } });
    expect(r.misshaped).toEqual([]);
    expect(r.remapped).toEqual([WEIGHT, BIAS]);
    expect(headRows(r.weights.get(WEIGHT)!)).toEqual([5, 0, 2]);
    expect([...r.weights.get(BIAS)!]).toEqual([5, 0, 2]);
    expect(r.applied).toContain(`head rows mine.json: ${WEIGHT} [7, 16] -> ${WEIGHT} [3, 16]`);
  });

  it("applies after renaming: mmaction2's cls_head.fc_cls", () => {
    const renamed = rekey(withHead(7), (k) => k.replace("backbone.transformer.proj.2.", "cls_head.fc_cls."));
    const r = mapCheckpoint(renamed, params, { remapHead: { source: "m", rows: [6, 6, 1] } });
    expect(r.source).toBe("uniformerv2-mmaction");
    expect(headRows(r.weights.get(WEIGHT)!)).toEqual([6, 6, 1]);
  });

  it("without a remap the larger head is a shape mismatch, as before", () => {
    const r = mapCheckpoint(withHead(7), params);
    expect(r.misshaped.map((m) => m.path)).toEqual([WEIGHT, BIAS]);
    expect(r.remapped).toEqual([]);
  });

  it("IV6008 when the list's length is not the model's classes; IV6009 for a row past the head", () => {
    expectCatalogError(
      () => mapCheckpoint(withHead(7), params, { remapHead: { source: "two.json", rows: [0, 1] } }),
      "IV6008",
      new RegExp(`\`two\\.json\` gives 2 rows, but \`${WEIGHT}\` has 3 classes`),
    );
    expectCatalogError(
      () => mapCheckpoint(withHead(7), params, { remapHead: { source: "far.json", rows: [0, 7, 1] } }),
      "IV6009",
      new RegExp(`selects row 7 \\(entry 1\\), but the checkpoint's \`${WEIGHT}\` has only 7 rows`),
    );
  });

  it("IV6010 when no head needed remapping", () => {
    const file = writeCheckpoint("fits.safetensors", withHead(3));
    expectCatalogError(() => loadWeights([file], params, { remapHead: K400_FROM_K710 }), "IV6010", /--remap-head `k400` was given/);
  });

  it("knows both classifier heads of InternVideo", () => {
    const paths = internVideoParams().map((p) => p.path);
    const heads = paths.filter((p) => isHeadPath(p, "internvideo"));
    expect(heads.sort()).toEqual(["mae.head.bias", "mae.head.weight", "mml.backbone.transformer.proj.2.bias", "mml.backbone.transformer.proj.2.weight"]);
  });
});

describe("ivc import --remap-head", () => {
  const c = parityCase("uniformerv2_k400_tiny");

  it("converts a 710-class checkpoint to a 400-class model with k400", async () => {
    const k710 = writeCheckpoint("k710.safetensors", withHead(710));
    const out = join(dir, "k400.safetensors");
    const r = await ivc("import", k710, "--model", c.model_file, "--model-name", c.model, "--preset", c.preset, ...c.set.flatMap((s) => ["--set", s]), "--set", "classes=400", "--remap-head", "k400", "-o", out, "--json");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).sources[0].remapped).toEqual([WEIGHT, BIAS]);
    const written = readSafetensors(out);
    expect(written.tensors.get(WEIGHT)!.shape).toEqual([400, WIDTH]);
    expect(headRows(written.tensors.get(WEIGHT)!.data)).toEqual(K400_FROM_K710.rows);
    expect(written.metadata.remap_head).toBe("k400");
  });

  it("prints the catalog code of a bad list and exits 1", async () => {
    const r = await ivc("run", ...modelArgs(c), "--weights", join(dir, "k710.safetensors"), "--input", "x.npy", "--remap-head", join(dir, "none.json"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[IV6007\]: cannot read the head remap `.*none\.json`: no such file\n {2}help: /);
  });
});

describe("CLIP's BPE token embedding", () => {
  const mm = new Map<string, LoadedTensor>([
    ["clip.visual.class_embedding", tensor([16], 1)],
    ["clip.token_embedding.weight", tensor([49408, 64], 2)],
  ]);

  it("is dropped with the reason and the fix while the model's vocabulary is byte-level", () => {
    const r = mapCheckpoint(mm, internVideoParams());
    expect(r.dropped.find((d) => d.key === "clip.token_embedding.weight")!.reason).toMatch(/--set text_vocab=49408/);
  });

  it("loads into text.token_embedding with text_vocab = 49408", () => {
    const params = paramsOf("models/internvideo.ivm", { preset: "tiny", set: [...INTERNVIDEO_SET, "text_vocab=49408"] });
    const r = mapCheckpoint(mm, params);
    expect(r.dropped.map((d) => d.key)).not.toContain("clip.token_embedding.weight");
    expect(r.weights.get("text.token_embedding.weight")).toBe(mm.get("clip.token_embedding.weight")!.data);
  });
});

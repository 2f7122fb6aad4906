/**
 * The language server through the protocol: `node bin/ivc.mjs lsp --stdio` spawned, spoken to with
 * vscode-jsonrpc as an editor would. No editor needed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMessageConnection, type MessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-languageserver/node";
import { MODEL, offsetOf } from "./fixture.ts";

const FILE = "/tmp/ivc-lsp-test/tiny.ivm";
const URI = pathToFileURL(FILE).href;

interface Published {
  uri: string;
  diagnostics: { code: string; message: string; severity: number; range: { start: { line: number; character: number } } }[];
}

let server: ChildProcess;
let conn: MessageConnection;
const published: Published[] = [];
let version = 1;

/** LSP position of an offset in `text` (ASCII fixture: characters are UTF-16 units). */
function position(text: string, offset: number) {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length - 1, character: before.at(-1)!.length };
}

/** Waits for the next diagnostics of FILE published after `since` messages. */
async function diagnosticsAfter(since: number): Promise<Published> {
  for (let i = 0; i < 600; i++) {
    const hit = published.slice(since).find((p) => p.uri === URI);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("no diagnostics published");
}

async function change(text: string): Promise<Published> {
  const since = published.length;
  await conn.sendNotification("textDocument/didChange", { textDocument: { uri: URI, version: ++version }, contentChanges: [{ text }] });
  return diagnosticsAfter(since);
}

beforeAll(async () => {
  server = spawn(process.execPath, ["bin/ivc.mjs", "lsp", "--stdio"], { cwd: resolve(import.meta.dirname, "../.."), stdio: ["pipe", "pipe", "inherit"] });
  conn = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
  conn.onNotification("textDocument/publishDiagnostics", (p: Published) => void published.push(p));
  conn.listen();
  const init = await conn.sendRequest("initialize", { processId: process.pid, rootUri: null, capabilities: {} });
  expect((init as { capabilities: { hoverProvider: boolean } }).capabilities.hoverProvider).toBe(true);
  await conn.sendNotification("initialized", {});
  const since = published.length;
  await conn.sendNotification("textDocument/didOpen", { textDocument: { uri: URI, languageId: "ivm", version, text: MODEL } });
  await diagnosticsAfter(since);
}, 60_000);

afterAll(async () => {
  await conn?.sendRequest("shutdown").catch(() => undefined);
  await conn?.sendNotification("exit").catch(() => undefined);
  conn?.dispose();
  server?.kill();
});

const hoverAt = async (text: string, offset: number) =>
  (await conn.sendRequest("textDocument/hover", { textDocument: { uri: URI }, position: position(text, offset) })) as { contents: { value: string } } | null;

describe("ivc lsp", () => {
  it("publishes no diagnostics for a clean model, and the parser's and the shape checker's as the buffer changes", async () => {
    expect((await change(MODEL)).diagnostics).toEqual([]);
    const typo = MODEL.replace("return head(pooled)", "return head(pooled");
    const syntax = await change(typo);
    expect(syntax.diagnostics.map((d) => d.code)).toContain("IV1011");
    const line = typo.split("\n").findIndex((l) => l.includes("return head(pooled"));
    expect(syntax.diagnostics[0]!.range.start.line).toBeGreaterThanOrEqual(line);
    const shape = await change(MODEL.replace("forward(x: f32[B, 8, cfg.width])", "forward(x: f32[B, 8, 3])"));
    expect(shape.diagnostics.length).toBeGreaterThan(0);
    expect(shape.diagnostics.every((d) => d.code.startsWith("IV3"))).toBe(true);
    expect((await change(MODEL)).diagnostics).toEqual([]);
  }, 60_000);

  it("hovers show inferred tensor types with named dims, config values and module signatures", async () => {
    expect((await hoverAt(MODEL, offsetOf(MODEL, "mean(", 1)))!.contents.value).toContain("f32[B, 16]");
    expect((await hoverAt(MODEL, offsetOf(MODEL, "norm(x)", 1)))!.contents.value).toContain("f32[B, 8, 16]");
    expect((await hoverAt(MODEL, offsetOf(MODEL, "head(pooled", 1)))!.contents.value).toContain("f32[B, 4]");
    expect((await hoverAt(MODEL, offsetOf(MODEL, "pooled =", 1)))!.contents.value).toContain("f32[B, 16]");
    // A named forward of a sub-module whose result is a sub-module call of its own.
    expect((await hoverAt(MODEL, offsetOf(MODEL, "enc.encode(x)", 5)))!.contents.value).toContain("f32[B, 8, 16]");
    const field = (await hoverAt(MODEL, offsetOf(MODEL, "cfg.width", 5, 1)))!.contents.value;
    expect(field).toContain("cfg.width: int = 16");
    expect(field).toContain("16 in model Tiny");
    const sig = (await hoverAt(MODEL, offsetOf(MODEL, "LayerNorm(cfg", 2)))!.contents.value;
    expect(sig).toMatch(/module LayerNorm\(width: int/);
    expect(sig).toContain("forward(x: f32[..., width])");
  }, 60_000);

  it("goes to definitions across files: stdlib modules, config fields, locals, preset keys, imports", async () => {
    const def = async (offset: number) =>
      (await conn.sendRequest("textDocument/definition", { textDocument: { uri: URI }, position: position(MODEL, offset) })) as { uri: string; range: { start: { line: number } } };
    const std = await def(offsetOf(MODEL, "LayerNorm(cfg", 2));
    expect(std.uri).toBe(pathToFileURL(resolve(import.meta.dirname, "../../stdlib/nn.ivm")).href);
    const nn = (await import("node:fs")).readFileSync(resolve(import.meta.dirname, "../../stdlib/nn.ivm"), "utf8").split("\n");
    expect(nn[std.range.start.line]).toMatch(/module LayerNorm/);
    const line = (o: number) => MODEL.slice(0, o).split("\n").length - 1;
    expect((await def(offsetOf(MODEL, "cfg.width", 5))).range.start.line).toBe(line(offsetOf(MODEL, "width: int")));
    expect((await def(offsetOf(MODEL, "width = 8", 1))).range.start.line).toBe(line(offsetOf(MODEL, "width: int")));
    expect((await def(offsetOf(MODEL, "pooled)", 1))).range.start.line).toBe(line(offsetOf(MODEL, "let pooled")));
    expect((await def(offsetOf(MODEL, "norm(x)", 1))).range.start.line).toBe(line(offsetOf(MODEL, "norm = ")));
    expect((await def(offsetOf(MODEL, "TinyConfig)", 1))).range.start.line).toBe(line(offsetOf(MODEL, "config TinyConfig")));
    expect((await def(offsetOf(MODEL, '"std/nn"', 2))).uri).toMatch(/stdlib\/nn\.ivm$/);
  }, 60_000);

  it("completes config keys after `cfg.` and names in scope, builtins and stdlib elsewhere", async () => {
    const text = MODEL.replace("return head(pooled)", "let q = cfg.\n    return head(pooled)");
    await change(text);
    const items = (at: number) =>
      conn.sendRequest("textDocument/completion", { textDocument: { uri: URI }, position: position(text, at) }) as Promise<{ label: string }[]>;
    const fields = (await items(offsetOf(text, "cfg.\n", 4))).map((i) => i.label);
    expect(fields.sort()).toEqual(["classes", "width"]);
    const names = (await items(offsetOf(text, "mean(", 0))).map((i) => i.label);
    for (const n of ["pooled", "norm", "x", "LayerNorm", "TinyConfig", "softmax", "rearrange", "MultiheadAttention", "CrossEntropy", "forward"]) expect(names).toContain(n);
    const at = MODEL.replace("  norm = LayerNorm", "  @\n  norm = LayerNorm");
    await change(at);
    const labels = ((await conn.sendRequest("textDocument/completion", { textDocument: { uri: URI }, position: position(at, offsetOf(at, "@\n", 1)) })) as { label: string }[]).map((i) => i.label);
    expect(labels.sort()).toEqual(["frozen", "init", "no_decay"]);
    await change(MODEL);
  }, 60_000);

  it("formats the buffer like ivc fmt, and not while it has syntax errors", async () => {
    const messy = MODEL.replace("  norm = LayerNorm(cfg.width)", "  norm   =   LayerNorm( cfg.width ) ;");
    await change(messy);
    const format = () => conn.sendRequest("textDocument/formatting", { textDocument: { uri: URI }, options: { tabSize: 2, insertSpaces: true } }) as Promise<{ newText: string }[]>;
    const edits = await format();
    expect(edits).toHaveLength(1);
    expect(edits[0]!.newText).toBe(MODEL);
    await change(messy.replace("return head(pooled)", "return head(pooled"));
    expect(await format()).toEqual([]);
    await change(MODEL);
  }, 60_000);

  it("types a stdlib module's expressions while a model using it is open", async () => {
    const path = resolve(import.meta.dirname, "../../stdlib/nn.ivm");
    const uri = pathToFileURL(path).href;
    const text = (await import("node:fs")).readFileSync(path, "utf8");
    await conn.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "ivm", version: 1, text } });
    const start = text.indexOf("module LayerNorm");
    const at = text.indexOf("mean(x", start);
    const h = (await conn.sendRequest("textDocument/hover", { textDocument: { uri }, position: position(text, at + 1) })) as { contents: { value: string } };
    expect(h.contents.value).toContain("f32[B, 8, 1]");
    await conn.sendNotification("textDocument/didClose", { textDocument: { uri } });
  }, 60_000);
});

import { describe, expect, it } from "vitest";
import { parseIvm } from "../../grammar/index.ts";
import { members, onlyModule, parseClean, sexpr, statements, typeText } from "./helpers.ts";

describe("top-level declarations", () => {
  it("parses imports with aliases", () => {
    const p = parseClean('import { LayerNorm, Linear as Dense } from "std/nn"\nimport { Block } from "./blocks.ivm"');
    expect(p.imports).toHaveLength(2);
    expect(p.imports[0]).toMatchObject({ kind: "import", from: "std/nn" });
    expect(p.imports[0]!.names.map((n) => [n.name.name, n.alias?.name])).toEqual([
      ["LayerNorm", undefined],
      ["Linear", "Dense"],
    ]);
    expect(p.imports[1]!.from).toBe("./blocks.ivm");
    expect(p.decls).toEqual([]);
  });

  it("parses configs with typed fields, defaults and list types, newline or comma separated", () => {
    const p = parseClean(`config UniFormerV2 {
  frames: int = 8, size: int = 224
  mlp_ratio: float = 4.0
  lmhra: bool = false
  return_list: list[int] = [8, 9, 10, 11]
  act: string = "quick_gelu"
  mae: VideoMAEConfig
  grid: list[list[int]] = [[1, 2]];
}`);
    const cfg = p.decls[0]!;
    if (cfg.kind !== "config") throw new Error("config expected");
    expect(cfg.name.name).toBe("UniFormerV2");
    expect(cfg.fields.map((f) => [f.name.name, typeText(f.type), f.default ? sexpr(f.default) : null])).toEqual([
      ["frames", "int", "8"],
      ["size", "int", "224"],
      ["mlp_ratio", "float", "4.0"],
      ["lmhra", "bool", "false"],
      ["return_list", "list[int]", "[8, 9, 10, 11]"],
      ["act", "string", '"quick_gelu"'],
      ["mae", "VideoMAEConfig", null],
      ["grid", "list[list[int]]", "[[1, 2]]"],
    ]);
  });

  it("parses presets, empty and with (nested) overrides", () => {
    const p = parseClean("preset k400_b16: UniFormerV2 { }\npreset tiny: UniFormerV2 { size = 32, width = 64\n mae.width = 32 }");
    const [a, b] = p.decls;
    expect(a).toMatchObject({ kind: "preset", name: { name: "k400_b16" }, base: { name: "UniFormerV2" }, overrides: [] });
    if (b?.kind !== "preset") throw new Error("preset expected");
    expect(b.overrides.map((o) => [o.key.segments.map((s) => s.text).join("."), sexpr(o.value)])).toEqual([
      ["size", "32"],
      ["width", "64"],
      ["mae.width", "32"],
    ]);
  });

  it("parses module and model headers with typed params and defaults", () => {
    const m = onlyModule("module Block(dim: int, ratio: float = 1.5, qkv_bias: bool = true,) { }");
    expect(m).toMatchObject({ kind: "module", role: "module", name: { name: "Block" }, members: [] });
    expect(m.params.map((p) => [p.name.name, typeText(p.type), p.default ? sexpr(p.default) : null])).toEqual([
      ["dim", "int", null],
      ["ratio", "float", "1.5"],
      ["qkv_bias", "bool", "true"],
    ]);
    expect(parseClean("model Net(cfg: UniFormerV2) { }").decls[0]).toMatchObject({
      role: "model",
      params: [{ name: { name: "cfg" } }],
    });
    expect(parseClean("module NoParams { }").decls[0]).toMatchObject({ params: [] });
  });

  it("keeps declarations in source order with imports apart", () => {
    const p = parseClean('config C { a: int = 1 }\nimport { X } from "std/nn"\nmodule M { }\ntrain stage s for M { steps 1 }');
    expect(p.decls.map((d) => d.kind)).toEqual(["config", "module", "trainStage"]);
    expect(p.imports).toHaveLength(1);
    expect(p.kind).toBe("program");
    expect(p.file).toBe("test.ivm");
  });
});

describe("module members", () => {
  it("parses let, sub-modules, annotations and tensor members", () => {
    const ms = members(`let hidden = floor(dim / ratio)
norm = LayerNorm(dim, eps = 1e-5)
@frozen visual = VisionTransformer(cfg.width)
@init(zeros) proj = Linear(dim, dim)
param weight: f32[out_dim, in_dim] @init(xavier_uniform)
@frozen param scale: f32[dim] @init(constant(1.0))
@no_decay param logit_scale: f32[]
buffer running_mean: f32[dim] @init(zeros)`);
    expect(ms.map((m) => m.kind)).toEqual([
      "letMember",
      "submodule",
      "submodule",
      "submodule",
      "tensorMember",
      "tensorMember",
      "tensorMember",
      "tensorMember",
    ]);
    const [letM, norm, visual, proj, weight, scale, logitScale, mean] = ms;
    expect(letM).toMatchObject({ name: { name: "hidden" } });
    expect(norm).toMatchObject({ target: { name: { name: "norm" } }, annotations: [] });
    expect(visual).toMatchObject({ annotations: [{ name: { name: "frozen" } }] });
    expect(visual?.kind === "submodule" && visual.annotations[0]!.args).toBeUndefined();
    expect(proj).toMatchObject({ annotations: [{ name: { name: "init" }, args: [{ value: { kind: "name", name: "zeros" } }] }] });
    if (weight?.kind !== "tensorMember" || scale?.kind !== "tensorMember" || mean?.kind !== "tensorMember") throw new Error();
    expect([weight.role, typeText(weight.type), weight.annotations.map((a) => a.name.name)]).toEqual([
      "param",
      "f32[out_dim, in_dim]",
      ["init"],
    ]);
    expect(scale.annotations.map((a) => a.name.name)).toEqual(["frozen", "init"]);
    expect(logitScale).toMatchObject({ type: { kind: "tensorType", dtype: "f32", dims: [] } });
    expect(mean.role).toBe("buffer");
  });

  it("treats an `@name` that begins a line as an annotation, not a matmul", () => {
    const ms = members(
      "norm = LayerNorm(dim)\n@init(zeros) proj = Linear(dim, dim)\nparam w: f32[dim] @init(ones)\n@frozen head = Linear(dim, 10)",
    );
    expect(
      ms.map((m) => (m.kind === "submodule" || m.kind === "tensorMember" ? m.annotations.map((a) => a.name.name) : [])),
    ).toEqual([[], ["init"], ["init"], ["frozen"]]);
    const [x] = statements("let y = a\n  @ b\nreturn y");
    expect(x?.kind === "let" && sexpr(x.value)).toBe("(a @ b)");
  });

  it("parses conditional members with else and else-if", () => {
    const [m] = members("if qkv_bias { param q_bias: f32[dim] @init(zeros) } else if other { let z = 1 } else { }");
    if (m?.kind !== "ifMember") throw new Error();
    expect(sexpr(m.condition)).toBe("qkv_bias");
    expect(m.then.map((x) => x.kind)).toEqual(["tensorMember"]);
    expect(m.hasElse).toBe(true);
    const inner = m.else[0];
    expect(inner).toMatchObject({ kind: "ifMember", hasElse: true, else: [] });
    const [plain] = members("if a { x = X() }");
    expect(plain).toMatchObject({ kind: "ifMember", hasElse: false, else: [] });
  });

  it("parses member loops with indexed names", () => {
    const [m] = members("for i in 0..layers { blocks[i] = ResidualBlock(width, heads)\n param gain[i]: f32[dim] @init(ones) }");
    if (m?.kind !== "forMember") throw new Error();
    expect(m.variable.name).toBe("i");
    expect(sexpr(m.iterable)).toBe("0..layers");
    expect(m.body[0]).toMatchObject({
      kind: "submodule",
      target: { name: { name: "blocks" }, index: { kind: "name", name: "i" } },
    });
    expect(m.body[1]).toMatchObject({ kind: "tensorMember", target: { name: { name: "gain" } } });
    const [overList] = members("for j in return_list { g[j] = G() }");
    expect(overList?.kind === "forMember" && sexpr(overList.iterable)).toBe("return_list");
  });

  it("parses forward signatures: tuple results, named forwards, expression bodies", () => {
    const [a, b, c] = members(`forward(x: f32[B, T, H, W, C], mask: bool[B, N]) -> f32[B, K] { return x }
forward encode_text(ids: i32[B, L]) -> (f32[B, N, C], f32[B, C]) { return (a, b) }
forward(x: f32[..., in_dim]) -> f32[..., out_dim] = up(conv(down(x)))`);
    if (a?.kind !== "forward" || b?.kind !== "forward" || c?.kind !== "forward") throw new Error();
    expect(a.name).toBeUndefined();
    expect(a.params.map((p) => `${p.name.name}: ${typeText(p.type)}`)).toEqual(["x: f32[B, T, H, W, C]", "mask: bool[B, N]"]);
    expect(typeText(a.returnType)).toBe("f32[B, K]");
    expect(a.expressionBody).toBe(false);
    expect(b.name?.name).toBe("encode_text");
    expect(typeText(b.returnType)).toBe("(f32[B, N, C], f32[B, C])");
    expect(c.expressionBody).toBe(true);
    expect(c.body).toHaveLength(1);
    expect(c.body[0]?.kind === "return" && sexpr(c.body[0].value)).toBe("up(conv(down(x)))");
    expect(typeText(c.params[0]!.type)).toBe("f32[..., in_dim]");
  });

  it("allows `;` between members and statements", () => {
    expect(members("a = A(); b = B();")).toHaveLength(2);
    expect(statements("let a = x; let b = a; return b")).toHaveLength(3);
  });
});

describe("tensor types", () => {
  const type = (t: string) => {
    const [f] = members(`forward(x: ${t}) -> f32[B] { return x }`);
    if (f?.kind !== "forward") throw new Error();
    return f.params[0]!.type;
  };
  it.each([
    ["f32[B, T*H*W, dim]", "f32[B, ((T * H) * W), dim]"],
    ["f32[B, size/patch, N+1]", "f32[B, (size / patch), (N + 1)]"],
    ["i32[B]", "i32[B]"],
    ["bool[B, N]", "bool[B, N]"],
    ["f32[]", "f32[]"],
    ["f32[...]", "f32[...]"],
    ["f32[..., in_dim]", "f32[..., in_dim]"],
    ["f32[B, cfg.frames, 3]", "f32[B, cfg.frames, 3]"],
  ])("%s", (t, expected) => {
    expect(typeText(type(t))).toBe(expected);
  });

  it("records where the leading `...` and the dtype are", () => {
    const t = type("f32[..., C]");
    if (t.kind !== "tensorType") throw new Error();
    expect(t.leadingEllipsis).toBeDefined();
    expect(t.dtypeSpan.endOffset - t.dtypeSpan.offset).toBe(3);
  });
});

describe("forward statements", () => {
  it("parses let, destructuring, reassignment, if/else, for and return", () => {
    const ss = statements(`let y = norm(x)
let (q, k, v) = split(qkv, 3, axis=-1)
let ((a, b), c) = f(x)
x = x + attn(norm1(x))
if cfg.lmhra { x = x + lmhra(x) } else { x = x }
for i in 0..layers { x = blocks[i](x) }
return (y, x)`);
    expect(ss.map((s) => s.kind)).toEqual(["let", "let", "let", "assign", "if", "for", "return"]);
    expect(ss[1]).toMatchObject({
      pattern: { kind: "tuplePattern", elements: [{ name: { name: "q" } }, { name: { name: "k" } }, { name: { name: "v" } }] },
    });
    expect(ss[2]).toMatchObject({
      pattern: { kind: "tuplePattern", elements: [{ kind: "tuplePattern" }, { kind: "namePattern" }] },
    });
    expect(ss[3]).toMatchObject({ kind: "assign", target: { name: "x" } });
    expect(ss[4]).toMatchObject({ kind: "if", hasElse: true, then: [{ kind: "assign" }], else: [{ kind: "assign" }] });
    const loop = ss[5];
    expect(loop?.kind === "for" && [loop.variable.name, sexpr(loop.iterable), loop.body.length]).toEqual(["i", "0..layers", 1]);
    expect(ss[6]?.kind === "return" && sexpr(ss[6].value)).toBe("(y, x)");
  });

  it("parses else-if chains as nested ifs", () => {
    const [s] = statements("if a { x = 1 } else if b { x = 2 } else { x = 3 }\nreturn x");
    expect(s).toMatchObject({ kind: "if", else: [{ kind: "if", hasElse: true, else: [{ kind: "assign" }] }] });
  });
});

describe("train stages", () => {
  it("parses the stage header, freeze lists, call items and settings", () => {
    const p = parseClean(`train stage interaction for InternVideo extends finetune {
  freeze mae, mml.visual, blocks.3.attn, blocks.*.norm1,
    head
  unfreeze mml.visual.blocks.11
  data synthetic_motion(frames = cfg.frames, size = cfg.size, classes = cfg.classes)
  loss cross_entropy(model(clip), label, smoothing = 0.1)
  optim adamw(lr = 1e-3, weight_decay = 0.05, betas = [0.9, 0.999])
  schedule cosine(warmup_steps = 50)
  steps 200
  batch 4
  ema 0.9999
}`);
    const s = p.decls[0];
    if (s?.kind !== "trainStage") throw new Error();
    expect([s.name.name, s.model.name, s.extends?.name]).toEqual(["interaction", "InternVideo", "finetune"]);
    const [freeze, unfreeze, data, loss, optim, schedule, steps, batch, ema] = s.items;
    expect(freeze?.kind === "freeze" && freeze.paths.map((x) => x.segments.map((g) => g.text).join("."))).toEqual([
      "mae",
      "mml.visual",
      "blocks.3.attn",
      "blocks.*.norm1",
      "head",
    ]);
    expect(unfreeze?.kind === "unfreeze" && unfreeze.paths[0]!.segments.map((g) => g.text)).toEqual([
      "mml",
      "visual",
      "blocks",
      "11",
    ]);
    expect([data, loss, optim, schedule].map((i) => (i?.kind === "stageCall" ? i.key : null))).toEqual([
      "data",
      "loss",
      "optim",
      "schedule",
    ]);
    expect(loss?.kind === "stageCall" && sexpr(loss.value)).toBe("cross_entropy(model(clip), label, smoothing=0.1)");
    expect([steps, batch, ema].map((i) => (i?.kind === "stageSetting" ? `${i.name.name} ${sexpr(i.value)}` : null))).toEqual([
      "steps 200",
      "batch 4",
      "ema 0.9999",
    ]);
  });

  it("splits a path index that lexes as a number (`blocks.3.5`)", () => {
    const p = parseClean("train stage s for M { freeze blocks.3.5 }");
    const item = p.decls[0]?.kind === "trainStage" ? p.decls[0].items[0] : undefined;
    expect(item?.kind === "freeze" && item.paths[0]!.segments.map((g) => [g.text, g.span.col])).toEqual([
      ["blocks", 30],
      ["3", 37],
      ["5", 39],
    ]);
  });

  it("a stage without extends has none", () => {
    const p = parseClean("train stage s for M { }");
    expect(p.decls[0]).toMatchObject({ kind: "trainStage", items: [] });
    expect(p.decls[0]?.kind === "trainStage" && p.decls[0].extends).toBeUndefined();
  });
});

describe("error recovery keeps the rest of the file", () => {
  it("a broken module does not hide the next declarations", () => {
    const { program, diagnostics } = parseIvm("module A { x = f(1,\n}\nmodule B { y = g() }\nconfig C { a: int = 1 }", "t.ivm");
    expect(diagnostics).toHaveLength(1);
    expect(program.decls.map((d) => (d.kind === "module" || d.kind === "config" ? d.name.name : d.kind))).toEqual([
      "A",
      "B",
      "C",
    ]);
  });

  it("a missing `}` does not glue the next column-1 declaration on", () => {
    const { program, diagnostics } = parseIvm("module A {\n  x = f(1)\n\nmodule B { y = g() }\n", "t.ivm");
    expect(diagnostics.map((d) => d.code)).toEqual(["IV1011"]);
    expect(program.decls.map((d) => (d.kind === "module" ? d.name.name : ""))).toContain("B");
  });
});

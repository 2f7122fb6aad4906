/**
 * Realistic specs modelled on UniFormerV2 (fact sheet 1.6-1.8): the syntax must express the
 * Local UniBlock, the Global UniBlock, the model with its layer loops, presets and train stages.
 */
import { describe, expect, it } from "vitest";
import type { ModuleDecl, TrainStageDecl } from "../../grammar/ast.ts";
import { allNodes, parseClean, sexpr } from "./helpers.ts";
import { UNIFORMERV2_SPEC as SPEC } from "./specs.ts";

describe("UniFormerV2 written in .ivm", () => {
  const program = parseClean(SPEC, "models/uniformerv2.ivm");

  it("has every declaration", () => {
    expect(program.imports.map((i) => i.from)).toEqual(["std/nn", "std/losses"]);
    expect(program.decls.map((d) => `${d.kind} ${d.name.name}`)).toEqual([
      "config UniFormerV2",
      "preset k400_b16",
      "preset tiny",
      "module LocalTemporalMHRA",
      "module LocalUniBlock",
      "module GlobalUniBlock",
      "module UniFormerV2Net",
      "trainStage finetune",
      "trainStage frozen_backbone",
    ]);
  });

  it("expresses the model's layer loops and conditional balance parameter", () => {
    const net = program.decls.find((d) => d.name.name === "UniFormerV2Net") as ModuleDecl;
    expect(net.role).toBe("model");
    const loops = net.members.filter((m) => m.kind === "forMember");
    expect(loops.map((l) => (l.kind === "forMember" ? sexpr(l.iterable) : ""))).toEqual([
      "0..cfg.layers",
      "0..len(cfg.return_list)",
    ]);
    const cond = net.members.find((m) => m.kind === "ifMember");
    expect(cond).toMatchObject({
      condition: { kind: "unary", op: "not" },
      then: [{ kind: "tensorMember", annotations: [{ name: { name: "no_decay" } }, { name: { name: "init" } }] }],
    });
  });

  it("gives every node a span inside the text whose text is the node's", () => {
    for (const node of allNodes(program)) {
      const span = (node as { span?: { offset: number; endOffset: number } }).span;
      expect(span, node.kind).toBeDefined();
      expect(span!.offset).toBeGreaterThanOrEqual(0);
      expect(span!.endOffset).toBeLessThanOrEqual(SPEC.length);
      expect(span!.endOffset).toBeGreaterThanOrEqual(span!.offset);
      if (node.kind === "identifier")
        expect(SPEC.slice(span!.offset, span!.endOffset)).toBe((node as unknown as { name: string }).name);
      if (node.kind === "name")
        expect(SPEC.slice(span!.offset, span!.endOffset)).toBe((node as unknown as { name: string }).name);
    }
  });

  it("keeps stage inheritance and freeze lists", () => {
    const stage = program.decls.find((d) => d.name.name === "frozen_backbone") as TrainStageDecl;
    expect(stage.extends?.name).toBe("finetune");
    expect(stage.items.map((i) => i.kind)).toEqual(["freeze", "unfreeze", "stageSetting"]);
  });
});

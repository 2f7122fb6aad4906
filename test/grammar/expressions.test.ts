import { describe, expect, it } from "vitest";
import { expr, sexpr } from "./helpers.ts";

const show = (text: string) => sexpr(expr(text));

describe("expression precedence and associativity", () => {
  it.each([
    ["a + b * c", "(a + (b * c))"],
    ["a * b + c", "((a * b) + c)"],
    ["a - b - c", "((a - b) - c)"],
    ["a / b / c", "((a / b) / c)"],
    ["a ** b ** c", "(a ** (b ** c))"],
    ["-a ** 2", "(-(a ** 2))"],
    ["a ** -b", "(a ** (-b))"],
    ["-a * b", "((-a) * b)"],
    ["a * -b", "(a * (-b))"],
    ["- -a", "(-(-a))"],
    ["x @ w + b", "((x @ w) + b)"],
    ["x @ w @ v", "((x @ w) @ v)"],
    ["a % b * c", "((a % b) * c)"],
    ["a + b < c * d", "((a + b) < (c * d))"],
    ["a == b and c != d", "((a == b) and (c != d))"],
    ["a or b and c", "(a or (b and c))"],
    ["not a == b", "(not (a == b))"],
    ["not a and b", "((not a) and b)"],
    ["a <= b or a >= c", "((a <= b) or (a >= c))"],
    ["(a + b) * c", "((a + b) * c)"],
    ["+a", "(+a)"],
  ])("%s", (text, expected) => {
    expect(show(text)).toBe(expected);
  });
});

describe("postfix expressions", () => {
  it.each([
    ["cfg.width", "cfg.width"],
    ["cfg.mae.width", "cfg.mae.width"],
    ["softmax(x, axis = -1)", "softmax(x, axis=(-1))"],
    ["blocks[i](x)", "blocks[i](x)"],
    ["CrossEntropy(smoothing = 0.1)(logits, label)", "CrossEntropy(smoothing=0.1)(logits, label)"],
    ["f()", "f()"],
    ["f(a, b,)", "f(a, b)"],
    ["x[:, 0]", "x[:, 0]"],
    ["x[:, 1:]", "x[:, 1:]"],
    ["x[..., :dim]", "x[..., :dim]"],
    ["x[:, ::2]", "x[:, ::2]"],
    ["x[1:n:2]", "x[1:n:2]"],
    ["x[:, :, -1]", "x[:, :, (-1)]"],
    ["-x[0]", "(-x[0])"],
    ["x.shape[0] + 1", "(x.shape[0] + 1)"],
  ])("%s", (text, expected) => {
    expect(show(text)).toBe(expected);
  });
});

describe("literals", () => {
  it("reads numbers, strings and booleans", () => {
    expect(expr("42")).toMatchObject({ kind: "int", value: 42, raw: "42" });
    expect(expr("1e-6")).toMatchObject({ kind: "float", value: 1e-6 });
    expect(expr("0.02")).toMatchObject({ kind: "float", value: 0.02 });
    expect(expr("1.5e3")).toMatchObject({ kind: "float", value: 1500 });
    expect(expr("true")).toMatchObject({ kind: "bool", value: true });
    expect(expr("false")).toMatchObject({ kind: "bool", value: false });
    expect(expr('"b t h w c -> (b t) (h w) c"')).toMatchObject({ kind: "string", value: "b t h w c -> (b t) (h w) c" });
    expect(expr('"a \\"q\\" \\\\ \\n \\t"')).toMatchObject({ kind: "string", value: 'a "q" \\ \n \t' });
  });

  it("reads lists and tuples", () => {
    expect(show("[1, 2, 3]")).toBe("[1, 2, 3]");
    expect(show("[]")).toBe("[]");
    expect(show("[[0, 0], [1, 1]]")).toBe("[[0, 0], [1, 1]]");
    expect(show("(a, b)")).toBe("(a, b)");
    expect(show("(a,)")).toBe("(a,)");
    expect(show("(a)")).toBe("a");
    expect(show("()")).toBe("()");
  });

  it("keeps contextual keywords usable as names", () => {
    expect(show("model(clip) + data + loss + config + stage + from")).toBe(
      "(((((model(clip) + data) + loss) + config) + stage) + from)",
    );
  });
});

describe("spans", () => {
  it("covers the whole expression and the operator", () => {
    const e = expr("a + b * c");
    if (e.kind !== "binary") throw new Error("binary expected");
    expect(e.span.endOffset - e.span.offset).toBe("a + b * c".length);
    expect(e.opSpan.endOffset - e.opSpan.offset).toBe(1);
    expect(e.right.span.endOffset - e.right.span.offset).toBe("b * c".length);
  });
});

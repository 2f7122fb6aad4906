/**
 * WGSL helper functions that generated expressions may call, included only when referenced. Each has
 * a scalar and a vec4 form because the elementwise generator emits both.
 *
 * Why these are not WGSL builtins: `erf` does not exist; `tanh` and `pow` are allowed to return NaN
 * or garbage outside narrow domains on some drivers, so they are wrapped.
 */

interface Helper {
  readonly code: string;
  readonly uses: readonly string[];
}

function both(name: string, body: (t: string, s: (x: string) => string) => string, uses: string[] = []): Record<string, Helper> {
  const splat = (x: string) => x;
  const vsplat = (x: string) => `vec4<f32>(${x})`;
  return {
    [name]: { code: body("f32", splat).replace(/@NAME/g, name), uses },
    [`${name}4`]: { code: body("vec4<f32>", vsplat).replace(/@NAME/g, `${name}4`), uses: uses.map((u) => `${u}4`) },
  };
}

const HELPERS: Record<string, Helper> = {
  // Abramowitz & Stegun 7.1.26 has 1.5e-7 absolute error, too coarse near 0 for relative tests; this
  // is the Numerical Recipes erfc Chebyshev fit (1.2e-7 relative).
  ...both(
    "ivc_erf",
    (t, s) => `fn @NAME(x: ${t}) -> ${t} {
  let z = abs(x);
  let u = 1.0 / (1.0 + 0.5 * z);
  let r = u * exp(-z * z - ${s("1.26551223")} + u * (${s("1.00002368")} + u * (${s("0.37409196")} + u * (${s("0.09678418")} +
    u * (${s("-0.18628806")} + u * (${s("0.27886807")} + u * (${s("-1.13520398")} + u * (${s("1.48851587")} +
    u * (${s("-0.82215223")} + u * ${s("0.17087277")})))))))));
  return sign(x) * (1.0 - r);
}`,
  ),
  ...both("ivc_tanh", (t, s) => `fn @NAME(x: ${t}) -> ${t} {
  // exp overflows past |x| ~ 44; tanh is +-1 in f32 long before that.
  let e = exp(-2.0 * abs(clamp(x, ${s("-15.0")}, ${s("15.0")})));
  return sign(x) * (1.0 - e) / (1.0 + e);
}`),
  ...both("ivc_sigmoid", (t) => `fn @NAME(x: ${t}) -> ${t} {
  return 1.0 / (1.0 + exp(-x));
}`),
  ...both(
    "ivc_gelu_erf",
    (t) => `fn @NAME(x: ${t}) -> ${t} {
  return 0.5 * x * (1.0 + ivc_erf@SUFFIX(x * 0.70710678118654752));
}`,
    ["ivc_erf"],
  ),
  ...both(
    "ivc_quick_gelu",
    (t) => `fn @NAME(x: ${t}) -> ${t} {
  return x * ivc_sigmoid@SUFFIX(1.702 * x);
}`,
    ["ivc_sigmoid"],
  ),
  ...both(
    "ivc_pow",
    (t, s) => `fn @NAME(a: ${t}, b: ${t}) -> ${t} {
  // WGSL pow is undefined for a < 0; follow C pow for integral exponents.
  let m = pow(abs(a), b);
  let odd = abs(b - 2.0 * floor(b * 0.5)) == ${s("1.0")};
  let integral = floor(b) == b;
  let neg = select(m, -m, odd);
  // A NaN built from a run-time value: WGSL rejects NaN in constant expressions.
  let nan = bitcast<${t}>(${t === "f32" ? "0x7fc00000u" : "vec4<u32>(0x7fc00000u)"} | (bitcast<${t === "f32" ? "u32" : "vec4<u32>"}>(b) & ${t === "f32" ? "0u" : "vec4<u32>(0u)"}));
  let r = select(select(nan, neg, integral), m, a >= ${s("0.0")});
  return select(r, ${s("1.0")}, b == ${s("0.0")});
}`,
  ),
};

for (const [name, h] of Object.entries(HELPERS)) {
  (HELPERS as Record<string, Helper>)[name] = { ...h, code: h.code.replace(/@SUFFIX/g, name.endsWith("4") ? "4" : "") };
}

/** The helper functions `text` calls (and what they call), in dependency order. */
export function helpersFor(text: string): string {
  const included: string[] = [];
  const visit = (name: string) => {
    if (included.includes(name)) return;
    for (const dep of HELPERS[name].uses) visit(dep);
    included.push(name);
  };
  for (const name of Object.keys(HELPERS)) {
    if (new RegExp(`\\b${name}\\(`).test(text)) visit(name);
  }
  return included.map((n) => HELPERS[n].code).join("\n\n");
}

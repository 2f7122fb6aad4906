/**
 * Row programs: kernels that make a few passes over each row of a [rows, length] tensor, reducing in
 * some passes and writing in others (softmax, LayerNorm and their backwards). One description,
 * three schedules (see `RowSchedule`):
 * - lane per row (software default): each invocation owns a row and loops over it; no barriers, no
 *   shared memory, and loads cost the same strided or not on lavapipe.
 * - subgroup per row (software with subgroups of 8): lanes stride the row, subgroupAdd/Max combine.
 * - workgroup per row (discrete): threads stride over the row and combine through workgroup memory.
 *
 * Expressions are WGSL. In a pass, a row-major input `x` is available as `v_x` (element j of row r);
 * per-column vectors are indexed directly (`gamma[j]`); per-row inputs are `r_<name>`; scalars from
 * earlier `then` statements and reductions are in scope in later passes.
 */
import { bindingDecls, ceilDiv, grid1d, kernelHeader, LINEAR_WORKGROUP, storage, type AdapterProfile, type Kernel, type KernelBinding } from "./kernel.ts";
import { helpersFor } from "./wgsl-math.ts";

export interface RowReduction {
  readonly name: string;
  readonly op: "sum" | "max";
  readonly expr: string;
}

export interface RowPass {
  readonly lets?: readonly string[];
  readonly reduce?: readonly RowReduction[];
  readonly store?: readonly { readonly buffer: string; readonly expr: string }[];
  /** Row-scalar statements after the pass (e.g. `let mean = s / 256.0;`). */
  readonly then?: readonly string[];
  /** Per-row outputs written after the pass. */
  readonly rowStore?: readonly { readonly buffer: string; readonly expr: string }[];
}

export interface RowProgram {
  readonly name: string;
  readonly description: string;
  readonly rows: number;
  readonly length: number;
  /** [rows, length] row-major inputs. */
  readonly inputs: readonly string[];
  /** [length] inputs. */
  readonly vectors?: readonly string[];
  /** [rows] inputs, loaded once per row as `r_<name>`. */
  readonly rowInputs?: readonly string[];
  /** [rows, length] outputs. */
  readonly outputs?: readonly string[];
  /** [rows] outputs. */
  readonly rowOutputs?: readonly string[];
  readonly passes: readonly RowPass[];
  readonly source?: readonly string[];
}

const LANE_WG = 64;
const ROW_WG = 128;

function identity(op: "sum" | "max"): string {
  return op === "sum" ? "0.0" : "-3.4028234663852886e38";
}

function combine(op: "sum" | "max", a: string, b: string): string {
  return op === "sum" ? `${a} + ${b}` : `max(${a}, ${b})`;
}

function usedInputs(p: RowProgram, pass: RowPass): string[] {
  const text = [...(pass.lets ?? []), ...(pass.reduce ?? []).map((r) => r.expr), ...(pass.store ?? []).map((s) => s.expr)].join("\n");
  return p.inputs.filter((n) => new RegExp(`\\bv_${n}\\b`).test(text));
}

/**
 * lane: one invocation per row. subgroup: the lanes of one subgroup share a row (8 on lavapipe, so
 * each load instruction reads 8 neighbouring floats; 32 on NVIDIA), and subgroupAdd/Max combine.
 * workgroup: 128 threads per row with a shared-memory tree (discrete GPUs).
 */
export type RowSchedule = "lane" | "subgroup" | "workgroup";

/**
 * On lavapipe a load costs the same gathered or contiguous, so lane-per-row (no cross-lane traffic,
 * no assumption about subgroup layout) is the default; the subgroup schedule measured no better.
 */
export function defaultRowSchedule(profile: AdapterProfile, length: number): RowSchedule {
  if (!profile.software) return length >= 64 ? "workgroup" : "lane";
  return "lane";
}

/**
 * The subgroup schedule needs a known, fixed subgroup size that divides the workgroup (subgroups are
 * then consecutive runs of local invocation indices in a 1-D workgroup); without one it is the lane schedule.
 */
function fixedSubgroupSize(profile: AdapterProfile): number | undefined {
  const n = profile.subgroupSize;
  return profile.subgroups && n >= 4 && n <= LANE_WG && LANE_WG % n === 0 ? n : undefined;
}

export function rowProgram(p: RowProgram, profile: AdapterProfile, requested: RowSchedule = defaultRowSchedule(profile, p.length)): Kernel {
  const SUB = fixedSubgroupSize(profile) ?? 0;
  const schedule: RowSchedule = requested === "subgroup" && SUB === 0 ? "lane" : requested;
  const source = p.source ?? [];
  // A lane walking its row 4 elements at a time runs a quarter of the loop iterations; row-length
  // tensors are then bound as vec4 arrays and the pass expressions work unchanged on vec4 values.
  const vec = schedule === "lane" && p.length % 4 === 0;
  const rowElem = vec ? "vec4f" : "f32";
  const bindings: KernelBinding[] = [
    ...p.inputs.map((n) => storage(n, "read", rowElem)),
    ...(p.vectors ?? []).map((n) => storage(n, "read", rowElem)),
    ...(p.rowInputs ?? []).map((n) => storage(n, "read")),
    ...(p.outputs ?? []).map((n) => storage(n, "read_write", rowElem)),
    ...(p.rowOutputs ?? []).map((n) => storage(n, "read_write")),
  ];
  const N = vec ? p.length / 4 : p.length;
  const body: string[] = [];
  body.push(`  let base = r * ${N}u;`);
  for (const n of p.rowInputs ?? []) body.push(`  let r_${n} = ${n}[r];`);
  const acc = (rd: RowReduction) => (vec ? `${rd.name}_v` : rd.name);
  const loops: Record<RowSchedule, string> = {
    lane: `for (var j = 0u; j < ${N}u; j++)`,
    subgroup: `for (var j = sl; j < ${N}u; j += ${SUB}u)`,
    workgroup: `for (var j = lane; j < ${N}u; j += ${ROW_WG}u)`,
  };
  // Subgroups past the last row run on a copy of it (subgroup ops need every lane) and store nothing.
  const guard = (stmt: string) => (schedule === "subgroup" ? `if (valid) { ${stmt} }` : stmt);
  for (const pass of p.passes) {
    const red = pass.reduce ?? [];
    for (const rd of red) body.push(vec ? `  var ${acc(rd)} = vec4<f32>(${identity(rd.op)});` : `  var ${rd.name} = ${identity(rd.op)};`);
    body.push(`  ${loops[schedule]} {`);
    for (const n of usedInputs(p, pass)) body.push(`    let v_${n} = ${n}[base + j];`);
    for (const l of pass.lets ?? []) body.push(`    ${l}`);
    for (const rd of red) body.push(`    ${acc(rd)} = ${combine(rd.op, acc(rd), `(${rd.expr})`)};`);
    for (const st of pass.store ?? []) body.push(`    ${guard(`${st.buffer}[base + j] = ${st.expr};`)}`);
    body.push("  }");
    if (vec) {
      for (const rd of red) {
        const v = acc(rd);
        body.push(`  let ${rd.name} = ${rd.op === "sum" ? `${v}.x + ${v}.y + ${v}.z + ${v}.w` : `max(max(${v}.x, ${v}.y), max(${v}.z, ${v}.w))`};`);
      }
    }
    if (schedule === "workgroup") for (const rd of red) body.push(...treeReduce(rd));
    if (schedule === "subgroup") for (const rd of red) body.push(`  ${rd.name} = ${rd.op === "sum" ? "subgroupAdd" : "subgroupMax"}(${rd.name});`);
    for (const t of pass.then ?? []) body.push(`  ${t}`);
    for (const st of pass.rowStore ?? []) {
      const stmt = `${st.buffer}[r] = ${st.expr};`;
      body.push(schedule === "workgroup" ? `  if (lane == 0u) { ${stmt} }` : schedule === "subgroup" ? `  if (valid && sl == 0u) { ${stmt} }` : `  ${stmt}`);
    }
  }
  const needsShared = schedule === "workgroup" && p.passes.some((ps) => (ps.reduce ?? []).length > 0);
  const text = body.join("\n");
  const describe: Record<RowSchedule, string> = {
    lane: vec ? "one lane per row, vec4 steps" : "one lane per row",
    subgroup: `one subgroup of ${SUB} per row`,
    workgroup: `one workgroup of ${ROW_WG} per row`,
  };
  const prologue: Record<RowSchedule, string> = {
    lane: `  let r = ${LINEAR_WORKGROUP} * ${LANE_WG}u + lane;
  if (r >= ${p.rows}u) { return; }`,
    // Subgroups are consecutive runs of SUB local invocation indices (fixedSubgroupSize).
    subgroup: `  let rRaw = (${LINEAR_WORKGROUP} * ${LANE_WG}u + lane) / ${SUB}u;
  let valid = rRaw < ${p.rows}u;
  let r = min(rRaw, ${p.rows - 1}u);`,
    workgroup: `  let r = ${LINEAR_WORKGROUP};
  if (r >= ${p.rows}u) { return; }`,
  };
  const wgSize = schedule === "workgroup" ? ROW_WG : LANE_WG;
  const rowsPerGroup = schedule === "workgroup" ? 1 : schedule === "subgroup" ? LANE_WG / SUB : LANE_WG;
  const wgsl = `${kernelHeader(p.name, `${p.description}; [${p.rows}, ${N}], ${describe[schedule]}`, source, schedule === "subgroup" ? ["subgroups"] : [])}
${bindingDecls(bindings)}
${needsShared ? `\nvar<workgroup> red: array<f32, ${ROW_WG}>;\n` : ""}
${helpersFor(text)}

@compute @workgroup_size(${wgSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32${schedule === "subgroup" ? ", @builtin(subgroup_invocation_id) sl: u32" : ""}) {
${prologue[schedule]}
${text}
}
`;
  return {
    name: p.name,
    wgsl,
    entryPoint: "main",
    workgroupSize: [wgSize, 1, 1],
    dispatch: (rows = p.rows) => grid1d(ceilDiv(rows, rowsPerGroup)),
    bindings,
    source,
  };
}

/** Every thread ends up holding the row total in the reduction's variable. */
function treeReduce(rd: RowReduction): string[] {
  return [
    `  red[lane] = ${rd.name};`,
    "  workgroupBarrier();",
    `  for (var s = ${ROW_WG / 2}u; s > 0u; s >>= 1u) {`,
    `    if (lane < s) { red[lane] = ${combine(rd.op, "red[lane]", "red[lane + s]")}; }`,
    "    workgroupBarrier();",
    "  }",
    `  ${rd.name} = red[0];`,
    "  workgroupBarrier();",
  ];
}

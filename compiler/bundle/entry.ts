/**
 * The bundle's code: `index.ts`, a typed entry module generated with ts-morph (inputs and outputs
 * as interfaces with their shapes in doc comments, `load`, `forward`, and `step`/`loss` for train
 * bundles), `runtime.ts` and `runtime-support.ts` (runtime-source.ts and runtime-support.ts, with the
 * import between them spelt `.js` as Node needs), and all three as plain JavaScript emitted by
 * ts-morph's own TypeScript. The generated and emitted files are formatted with prettier.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as prettier from "prettier";
import { type InterfaceDeclarationStructure, type OptionalKind, Project, ts, VariableDeclarationKind } from "ts-morph";
import type { Manifest } from "./manifest.ts";
import type { ManifestSlot } from "./runtime-source.ts";

/** The webgpu version the runtime is tested with (this repository's dependency). */
const WEBGPU_RANGE = "^0.6.2";
const HERE = dirname(fileURLToPath(import.meta.url));

/** The runtime's files as they go into a bundle; the repository imports `.ts`, the bundle `.js`. */
function runtimeSources(): { "runtime.ts": string; "runtime-support.ts": string } {
  const read = (f: string) => readFileSync(join(HERE, f), "utf8").replaceAll('"./runtime-support.ts"', '"./runtime-support.js"');
  return { "runtime.ts": read("runtime-source.ts"), "runtime-support.ts": read("runtime-support.ts") };
}

export interface BundleCode {
  readonly "index.ts": string;
  readonly "index.js": string;
  readonly "runtime.ts": string;
  readonly "runtime.js": string;
  readonly "runtime-support.ts": string;
  readonly "runtime-support.js": string;
  readonly "package.json": string;
}

function shapeDoc(s: ManifestSlot): string {
  return `${s.dtype} [${s.shape.join(", ")}]`;
}

function slotType(s: ManifestSlot, input: boolean): string {
  const array = s.dtype === "f32" ? "Float32Array" : "Int32Array";
  return input ? `${array} | ArrayLike<number>` : array;
}

/** A property name as written in TypeScript: bare when it is an identifier, quoted otherwise. */
function prop(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

function slotsInterface(
  name: string,
  doc: string,
  slots: readonly ManifestSlot[],
  input: boolean,
): OptionalKind<InterfaceDeclarationStructure> {
  return {
    name,
    isExported: true,
    docs: [doc],
    properties: slots.map((s) => ({ name: prop(s.name), type: slotType(s, input), isReadonly: true, docs: [shapeDoc(s)] })),
  };
}

function entrySource(m: Manifest, project: Project): string {
  const file = project.createSourceFile("index.ts", "", { overwrite: true });
  const what = `${m.model}${m.preset ? ` (preset ${m.preset})` : ""}${m.stage ? `, stage ${m.stage}` : ""}`;
  file.addStatements([
    `/**\n * ${what}, compiled by ivc from ${m.source.file} for batch ${m.batch} (${m.mode}).\n * Generated: recompile with \`ivc compile\` instead of editing. Needs the \`webgpu\` package.\n */`,
  ]);
  file.addImportDeclaration({
    moduleSpecifier: "./runtime.js",
    namedImports: [
      { name: "BundleRunner" },
      { name: "LoadOptions", isTypeOnly: true },
      { name: "StepOptions", isTypeOnly: true },
      { name: "Tensor", isTypeOnly: true },
      { name: "TensorLike", isTypeOnly: true },
    ],
  });
  file.addExportDeclaration({
    isTypeOnly: true,
    namedExports: ["BundleRunner", "LoadOptions", "StepOptions", "Tensor", "TensorLike"],
  });
  const train = m.mode === "train";
  file.addInterface(
    slotsInterface("Inputs", train ? "One training batch." : "The model's inputs, by name (row-major)", m.inputs, true),
  );
  file.addInterface(
    slotsInterface(
      "Outputs",
      train ? "What one training step computes (loss, gradients)." : "The model's outputs, by name (row-major).",
      m.outputs,
      false,
    ),
  );
  file.addVariableStatement({
    isExported: true,
    declarationKind: VariableDeclarationKind.Const,
    docs: ["Input shapes the bundle was compiled for (the batch is fixed at compile time)."],
    declarations: [
      {
        name: "inputShapes",
        initializer: `${JSON.stringify(Object.fromEntries(m.inputs.map((s) => [s.name, s.shape])))} as const`,
      },
    ],
  });
  const methods = train
    ? [
        {
          name: "step",
          parameters: [
            { name: "batch", type: "Inputs" },
            { name: "options", type: "StepOptions" },
          ],
          returnType: "void",
          docs: ["One training step (forward, backward, optimizer update) as one command buffer; nothing is read back."],
        },
        { name: "loss", returnType: "Promise<number>", docs: ["The loss of the latest step (waits for it)."] },
      ]
    : [
        {
          name: "forward",
          parameters: [{ name: "inputs", type: "Inputs" }],
          returnType: "Promise<Outputs>",
          docs: ["Runs the model once (one command buffer) and reads every output back."],
        },
      ];
  file.addInterface({
    name: "Model",
    isExported: true,
    docs: [`${what}, loaded on a WebGPU device.`],
    properties: [{ name: "runner", type: "BundleRunner", isReadonly: true, docs: ["The underlying runner (manifest, device)."] }],
    methods: [
      ...methods,
      {
        name: "parameter",
        parameters: [{ name: "path", type: "string" }],
        returnType: "Promise<Tensor>",
        docs: ["A parameter's current value, by path."],
      },
      { name: "destroy", returnType: "void", docs: ["Frees the device (Node stays alive while a device exists)."] },
    ],
  });
  const body = train
    ? `step: (batch, options) => runner.step(batch as unknown as Record<string, TensorLike>, options),
       loss: () => runner.loss(),`
    : `forward: async (inputs) => (await runner.forward(inputs as unknown as Record<string, TensorLike>)) as unknown as Outputs,`;
  file.addFunction({
    name: "load",
    isExported: true,
    isAsync: true,
    docs: [
      "Loads the bundle: compiles its kernels, allocates its buffers, uploads the weights (default: weights.safetensors next to this file).",
    ],
    parameters: [{ name: "options", type: "LoadOptions", initializer: "{}" }],
    returnType: "Promise<Model>",
    statements: `const runner = await BundleRunner.load(new URL(".", import.meta.url), options);
      return {
        runner,
        ${body}
        parameter: (path) => runner.parameter(path),
        destroy: () => runner.destroy(),
      };`,
  });
  return file.getFullText();
}

/** Generates, emits and formats the bundle's code for `manifest`. */
export async function bundleCode(manifest: Manifest): Promise<BundleCode> {
  const project = new Project({
    useInMemoryFileSystem: true,
    // Emit only: no lib files, no resolution (the runtime is type checked with the repository).
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ES2022,
      noLib: true,
      noResolve: true,
      isolatedModules: true,
      types: [],
      removeComments: false,
    },
    skipFileDependencyResolution: true,
  });
  const runtime = runtimeSources();
  for (const [name, text] of Object.entries(runtime)) project.createSourceFile(name, text);
  const indexText = entrySource(manifest, project);
  const emitted = project.emitToMemory();
  const js = new Map(emitted.getFiles().map((f) => [f.filePath.split("/").pop()!, f.text]));
  const need = (name: string) => {
    const text = js.get(name);
    if (text === undefined) throw new Error(`internal: ts-morph emitted no ${name}`);
    return text;
  };
  const options = { printWidth: 110 };
  // Marks index.js as an ES module even inside a CommonJS project, and names what it needs.
  const pkg = {
    name: `${manifest.model.toLowerCase().replace(/[^a-z0-9-]/g, "-") || "model"}-bundle`,
    private: true,
    type: "module",
    main: "index.js",
    types: "index.ts",
    peerDependencies: { webgpu: WEBGPU_RANGE },
  };
  return {
    "index.ts": await prettier.format(indexText, { ...options, parser: "babel-ts" }),
    "index.js": await prettier.format(need("index.js"), { ...options, parser: "babel" }),
    // Already formatted (the repository's prettier settings); formatting it again costs half a second.
    ...runtime,
    "runtime.js": await prettier.format(need("runtime.js"), { ...options, parser: "babel" }),
    "runtime-support.js": await prettier.format(need("runtime-support.js"), { ...options, parser: "babel" }),
    "package.json": `${JSON.stringify(pkg, null, 2)}\n`,
  };
}

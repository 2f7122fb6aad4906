/**
 * The diagnostic catalog: every code ivc can report. Each range lives in its own file under codes/
 * so that the stages add codes without editing each other's tables:
 *   IV1xxx syntax            codes/syntax.ts
 *   IV2xxx names, resolve    codes/names.ts
 *   IV3xxx types, shapes     codes/shapes.ts
 *   IV4xxx training, freeze  codes/train.ts
 *   IV5xxx back end, limits  codes/backend.ts
 *   IV6xxx runtime, data     codes/runtime.ts
 */
import { BACKEND_CODES } from "./codes/backend.ts";
import type { CodeTable, DiagnosticDef } from "./codes/def.ts";
import { NAME_CODES } from "./codes/names.ts";
import { RUNTIME_CODES } from "./codes/runtime.ts";
import { SHAPE_CODES } from "./codes/shapes.ts";
import { SYNTAX_CODES } from "./codes/syntax.ts";
import { TRAIN_CODES } from "./codes/train.ts";

export type { DiagnosticDef };

/** Each table with the code prefix it must use; checked by test/diagnostics/catalog.test.ts. */
export const CODE_RANGES: readonly { readonly prefix: string; readonly area: string; readonly table: CodeTable }[] = [
  { prefix: "IV1", area: "syntax", table: SYNTAX_CODES },
  { prefix: "IV2", area: "names and imports", table: NAME_CODES },
  { prefix: "IV3", area: "types and shapes", table: SHAPE_CODES },
  { prefix: "IV4", area: "training and freezing", table: TRAIN_CODES },
  { prefix: "IV5", area: "back end and adapter limits", table: BACKEND_CODES },
  { prefix: "IV6", area: "runtime, data and checkpoints", table: RUNTIME_CODES },
];

export const CATALOG = {
  ...SYNTAX_CODES,
  ...NAME_CODES,
  ...SHAPE_CODES,
  ...TRAIN_CODES,
  ...BACKEND_CODES,
  ...RUNTIME_CODES,
} as const;

export type DiagnosticCode = keyof typeof CATALOG;

export function isDiagnosticCode(code: string): code is DiagnosticCode {
  return Object.prototype.hasOwnProperty.call(CATALOG, code);
}

export function lookupCode(code: DiagnosticCode): DiagnosticDef {
  return CATALOG[code];
}

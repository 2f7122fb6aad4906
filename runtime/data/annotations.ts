/**
 * Annotation files for video datasets. Two layouts:
 *   Kinetics style: one `path label` per line, split at the last run of whitespace (paths may
 *   contain spaces); blank lines and lines starting with # are skipped.
 *   CSV: a header naming `path` and `label` columns (others are ignored), double quotes allowed.
 * Labels are either all integers (class indices) or class names, which are numbered in sorted
 * order unless the caller gives the class list.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UserError } from "../../cli/errors.ts";

export interface AnnotatedSample {
  /** Absolute path of the video file or frame folder. */
  path: string;
  label: number;
  /** 1-based line in the annotation file, for messages. */
  line: number;
}

export interface Annotations {
  samples: AnnotatedSample[];
  classNames: string[];
}

const FORMAT_HELP = "give one `path label` per line (Kinetics style), or a CSV file whose header has `path,label`";

function splitCsvLine(text: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      fields.push(field);
      field = "";
    } else field += ch;
  }
  fields.push(field);
  return fields.map((f) => f.trim());
}

export function parseAnnotations(file: string, options: { root?: string; classNames?: readonly string[] } = {}): Annotations {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(code === "ENOENT" ? `annotation file not found: ${file}` : `cannot read annotation file ${file}: ${(error as Error).message}`, FORMAT_HELP);
  }
  const root = options.root ?? path.dirname(path.resolve(file));
  const lines = text.split(/\r?\n/).map((content, i) => ({ content: content.trim(), line: i + 1 }));
  const meaningful = lines.filter(({ content }) => content.length > 0 && !content.startsWith("#"));
  if (meaningful.length === 0) throw new UserError(`annotation file ${file} lists no samples`, FORMAT_HELP);

  const header = splitCsvLine(meaningful[0]!.content).map((h) => h.toLowerCase());
  const isCsv = header.includes("path") && header.includes("label") && meaningful[0]!.content.includes(",");
  const raw: { path: string; label: string; line: number }[] = [];
  if (isCsv) {
    const pathColumn = header.indexOf("path");
    const labelColumn = header.indexOf("label");
    for (const { content, line } of meaningful.slice(1)) {
      const fields = splitCsvLine(content);
      if (fields.length !== header.length || !fields[pathColumn] || !fields[labelColumn]) {
        throw new UserError(`${file}:${line}: expected ${header.length} comma-separated fields (${header.join(",")}), got "${content}"`, FORMAT_HELP);
      }
      raw.push({ path: fields[pathColumn]!, label: fields[labelColumn]!, line });
    }
  } else {
    for (const { content, line } of meaningful) {
      const match = /^(.*\S)\s+(\S+)$/.exec(content);
      if (!match) throw new UserError(`${file}:${line}: expected "path label", got "${content}"`, FORMAT_HELP);
      raw.push({ path: match[1]!, label: match[2]!, line });
    }
  }
  if (raw.length === 0) throw new UserError(`annotation file ${file} lists no samples`, FORMAT_HELP);

  const numeric = raw.every(({ label }) => /^\d+$/.test(label));
  let classNames: string[];
  let labelOf: (label: string, line: number) => number;
  if (numeric) {
    const largest = Math.max(...raw.map(({ label }) => Number(label)));
    classNames = options.classNames ? [...options.classNames] : Array.from({ length: largest + 1 }, (_, i) => `class ${i}`);
    labelOf = (label, line) => {
      const index = Number(label);
      if (index >= classNames.length) throw new UserError(`${file}:${line}: label ${index} is outside the ${classNames.length} classes`);
      return index;
    };
  } else {
    classNames = options.classNames ? [...options.classNames] : [...new Set(raw.map(({ label }) => label))].sort();
    const indexOf = new Map(classNames.map((name, i) => [name, i]));
    labelOf = (label, line) => {
      const index = indexOf.get(label);
      if (index === undefined) throw new UserError(`${file}:${line}: unknown class "${label}"`, `known classes: ${classNames.slice(0, 10).join(", ")}${classNames.length > 10 ? ", ..." : ""}`);
      return index;
    };
  }
  return {
    samples: raw.map(({ path: samplePath, label, line }) => ({ path: path.resolve(root, samplePath), label: labelOf(label, line), line })),
    classNames,
  };
}

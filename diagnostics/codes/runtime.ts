/** IV6xxx: runtime, data and checkpoints. */
import type { CodeTable } from "./def.ts";

export const RUNTIME_CODES = {
  IV6001: {
    severity: "error",
    message: "cannot read data file `{path}`: {reason}",
  },
  IV6002: {
    severity: "error",
    message: "checkpoint `{file}` has no tensor `{key}`",
    help: "{help}",
  },
  IV6003: {
    severity: "error",
    message: "checkpoint tensor `{key}` has shape {found}, the model expects {expected}",
  },
  IV6004: {
    severity: "error",
    message: "checkpoint `{file}` is corrupt: {reason}",
  },
  IV6005: {
    severity: "error",
    message: "cannot read the CLIP vocabulary `{path}`: {reason}",
    help: "point `--tokenizer clip:PATH` at CLIP's merges file `bpe_simple_vocab_16e6.txt.gz` (it ships inside OpenAI's `clip` Python package)",
  },
  IV6006: {
    severity: "error",
    message: "`{path}` is not a CLIP BPE merges file: {reason}",
    help: "give CLIP's `bpe_simple_vocab_16e6.txt.gz` (gzip) or the same merges as plain text (Hugging Face's `merges.txt`), not `vocab.json`",
  },
  IV6007: {
    severity: "error",
    message: "cannot read the head remap `{path}`: {reason}",
    help: "give `k400` (the first 400 K710 rows) or a JSON file holding one list of row indices, e.g. UniFormerV2's `label_mixto600.json`",
  },
  IV6008: {
    severity: "error",
    message: "the head remap `{source}` gives {count} rows, but `{path}` has {classes} classes",
    help: "use the list made for this dataset (one index per class of the model), or set the model's classes with --set",
  },
  IV6009: {
    severity: "error",
    message: "the head remap `{source}` selects row {index} (entry {position}), but the checkpoint's `{key}` has only {rows} rows",
    help: "the list is for another checkpoint head: a K710 list needs a 710-class checkpoint",
  },
  IV6010: {
    severity: "error",
    message: "--remap-head `{source}` was given, but no checkpoint head has a row count other than the model's",
    help: "leave --remap-head out: the heads already fit (or the checkpoints carry no classifier head)",
  },
  IV6011: {
    severity: "error",
    message: "the tokenizer `{spec}` gives ids up to {max}, but `{path}` has only {rows} rows",
    help: "give the model a vocabulary of {vocab} ids (InternVideo: --set text_vocab={vocab})",
  },
} as const satisfies CodeTable;

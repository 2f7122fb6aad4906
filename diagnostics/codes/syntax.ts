/** IV1xxx: lexical and syntax errors, reported by grammar/. */
import type { CodeTable } from "./def.ts";

export const SYNTAX_CODES = {
  // Lexical (IV1001-IV1009)
  IV1001: {
    severity: "error",
    message: "unexpected character {char}",
    help: "{help}",
  },
  IV1002: {
    severity: "error",
    message: "unterminated string literal",
    help: 'a string ends with `"` on the same line; write a literal quote as `\\"`',
  },
  IV1003: {
    severity: "error",
    message: "unterminated block comment",
    help: "close the comment with `*/`",
  },
  IV1004: {
    severity: "error",
    message: "unknown escape `{escape}` in string",
    help: 'the escapes are `\\"`, `\\\\`, `\\n` and `\\t`',
  },
  IV1005: {
    severity: "error",
    message: "invalid number `{text}`",
    help: "a number cannot run into a name; separate them with a space or an operator",
  },
  IV1006: {
    severity: "error",
    message: "file is not valid UTF-8: byte 0x{byte} at offset {offset}",
    help: "save the file as UTF-8; the bad bytes are shown as `\uFFFD`",
  },
  IV1007: {
    severity: "error",
    message: "cannot read `{path}`: {reason}",
  },
  IV1008: {
    severity: "warning",
    message: "`{file}` declares nothing",
    help: "a file holds `import`, `config`, `preset`, `module`, `model` and `train stage` declarations",
  },

  // Grammar (IV1010-IV1039)
  IV1010: {
    severity: "error",
    message: "expected {expected}, found {found}",
  },
  IV1011: {
    severity: "error",
    message: "expected `{close}` to close the {what} opened at {line}:{col}, found {found}",
    help: "add the missing `{close}`",
  },
  IV1012: {
    severity: "error",
    message: "unmatched `{close}`",
    help: "remove it, or look for a missing `{open}` before it",
  },
  IV1013: {
    severity: "error",
    message: "expected an expression, found {found}",
  },
  IV1014: {
    severity: "error",
    message: "expected a declaration, found {found}",
    help: "a file holds `import`, `config`, `preset`, `module`, `model` and `train stage` declarations",
  },
  IV1015: {
    severity: "error",
    message: "expected a module member, found {found}",
    help: "members are `let`, `param`, `buffer`, `forward`, `if`, `for` and `name = Module(...)`",
  },
  IV1016: {
    severity: "error",
    message: "expected a statement, found {found}",
    help: "forward statements are `let`, `name = ...`, `if`, `for` and `return`",
  },
  IV1017: {
    severity: "error",
    message: "expected a stage item, found {found}",
    help: "stage items are `freeze`, `unfreeze`, `data`, `loss`, `optim`, `schedule` and settings such as `steps 200`",
  },
  IV1018: {
    severity: "error",
    message: "expected a type, found {found}",
    help: "types are `int`, `float`, `bool`, `string`, `list[int]`, a config name, or a tensor type such as `f32[B, N, C]`",
  },
  IV1019: {
    severity: "error",
    message: "expected `->` and the result type after the forward's parameters, found {found}",
    help: "write `forward(x: f32[B, C]) -> f32[B, C] { ... }`",
  },
  IV1020: {
    severity: "error",
    message: "expected `in` after the loop variable, found {found}",
    help: "write `for i in 0..n { ... }`",
  },
  IV1021: {
    severity: "error",
    message: "trailing comma is not allowed {where}",
    help: "remove the `,`",
  },
  IV1022: {
    severity: "error",
    message: "nesting is deeper than {limit} levels",
    help: "split the expression into several `let` bindings",
  },
  IV1023: {
    severity: "error",
    message: "expression is too long: more than {limit} operators",
    help: "split the expression into several `let` bindings",
  },
  IV1024: {
    severity: "error",
    message: "positional argument after a keyword argument",
    help: "put the positional arguments first: `f(x, y, axis = 1)`",
  },
  IV1025: {
    severity: "error",
    message: "`...` can only be the first dim of a tensor type",
    help: "`f32[..., C]` means any leading dims followed by `C`",
  },
  IV1026: {
    severity: "error",
    message: "cannot assign to this expression",
    help: "only a name can be reassigned: `x = x + attn(x)`",
  },
  IV1027: {
    severity: "error",
    message: "the value of this expression is unused",
    help: "bind it with `let name = ...`, or `return` it",
  },
  IV1028: {
    severity: "error",
    message: "`{op}=` is not supported",
    help: "write `{name} = {name} {op} ...`",
  },
  IV1029: {
    severity: "error",
    message: "a member `let` binds a single name",
    help: "tuple destructuring `let (a, b) = ...` is written inside `forward`",
  },
  IV1030: {
    severity: "error",
    message: "a range `a..b` can only be the iterable of a `for`",
    help: "use `range(a, b)` for a list of integers",
  },
  IV1031: {
    severity: "error",
    message: "`{name}[...]` is not a type",
    help: "brackets follow `list` (`list[int]`) and the tensor element types `f32`, `i32` and `bool`{suggestion}",
  },
  IV1032: {
    severity: "error",
    message: "{what} is not a dimension",
    help: "a dimension is an integer, a name, or `+ - * /` on them, e.g. `f32[B, T*H*W, dim]`",
  },
  IV1033: {
    severity: "error",
    message: "keyword argument `{name}` is given twice",
  },
  IV1034: {
    severity: "error",
    message: "a tuple type needs at least two elements",
    help: "write the element type without parentheses",
  },
  IV1035: {
    severity: "error",
    message: "`else` without a matching `if`",
    help: "`else` follows the closing `}` of an `if` block",
  },
  IV1036: {
    severity: "error",
    message: "expected a config field, found {found}",
    help: "a field is written `name: type = default`, e.g. `frames: int = 8`",
  },
  IV1037: {
    severity: "error",
    message: "expected a preset override, found {found}",
    help: "an override is written `key = value`, e.g. `size = 32`",
  },
  IV1038: {
    severity: "error",
    message: "`{word}` is a keyword and cannot be used as a name",
    help: "choose another name, e.g. `{word}_`",
  },
  IV1039: {
    severity: "note",
    message: "stopped after {limit} syntax errors; the rest of the file was not checked",
    help: "fix the errors above and check again",
  },

  // Annotations (IV1040-IV1049)
  IV1040: {
    severity: "error",
    message: "unknown annotation `@{name}`",
    help: "the annotations are `@frozen`, `@no_decay` and `@init(...)`{suggestion}",
  },
  IV1041: {
    severity: "error",
    message: "wrong arguments for `@{name}`: {problem}",
    help: "{usage}",
  },
  IV1042: {
    severity: "error",
    message: "unknown initializer `{name}`",
    help: "the initializers are {known}{suggestion}",
  },
  IV1043: {
    severity: "error",
    message: "wrong arguments for initializer `{name}`: {problem}",
    help: "write `{usage}`",
  },
  IV1044: {
    severity: "warning",
    message: "`@{name}` is given twice",
    help: "remove the repeated annotation",
  },

  // Train stages (IV1050-IV1059)
  IV1050: {
    severity: "error",
    message: "`{mode}` needs at least one path",
    help: "list dotted paths into the model: `{mode} backbone, head.norm`",
  },
} as const satisfies CodeTable;

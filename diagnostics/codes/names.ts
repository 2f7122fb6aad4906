/** IV2xxx: names, imports and resolution. */
import type { CodeTable } from "./def.ts";

export const NAME_CODES = {
  IV2001: {
    severity: "error",
    message: "unknown name `{name}`",
    help: "{help}",
  },
  IV2002: {
    severity: "error",
    message: "`{name}` is not exported by `{module}`",
    help: "`{module}` declares {available}",
  },
  IV2003: {
    severity: "error",
    message: "unknown key `{key}` for config `{config}`",
    help: "the keys of `{config}` are {keys}",
  },
  IV2004: {
    severity: "error",
    message: "`{key}` expects {expected}, found {found}",
  },
  IV2005: {
    severity: "error",
    message: "`{name}` is defined twice",
  },
  IV2006: {
    severity: "error",
    message: "cannot find module `{module}`",
    help: "`std/<name>` imports stdlib/<name>.ivm; other paths are relative to the importing file",
  },
  IV2007: {
    severity: "error",
    message: "{what} cannot be called",
    help: "{help}",
  },
  IV2008: {
    severity: "error",
    message: "wrong arguments for `{callee}`: {message}",
    help: "{help}",
  },
  IV2009: {
    severity: "error",
    message: "{what} has no member `{member}`",
    help: "{help}",
  },
  IV2010: {
    severity: "error",
    message: "cannot assign to `{name}`: it is not defined",
    help: "declare it first with `let {name} = ...`",
  },
  IV2011: {
    severity: "error",
    message: "module `{name}` instantiates itself (nesting deeper than {limit})",
    help: "a module cannot contain itself; check the sub-module declarations",
  },
  IV2012: {
    severity: "error",
    message: "{message}",
    help: "{help}",
  },
  IV2013: {
    severity: "error",
    message: "unknown preset `{name}`",
    help: "{help}",
  },
  IV2014: {
    severity: "error",
    message: "unknown train stage `{name}`",
    help: "{help}",
  },
} as const satisfies CodeTable;

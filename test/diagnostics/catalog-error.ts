/** Asserts that a call fails with a UserError carrying a diagnostics-catalog code. */
import { expect } from "vitest";
import { UserError } from "../../cli/errors.ts";

export function expectCatalogError(f: () => unknown, code: string, message: RegExp): UserError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe(code);
    expect((e as UserError).message).toMatch(message);
    return e as UserError;
  }
  throw new Error(`expected a UserError ${code}`);
}

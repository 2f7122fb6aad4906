/** Wrong invocation: unknown flag value, missing file. Exit code 2, one line. */
export class UsageError extends Error {}

/** Bad user input the command cannot proceed with (corrupt checkpoint, missing adapter). Exit code 1. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly help?: string,
  ) {
    super(message);
  }
}

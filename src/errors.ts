/**
 * errors.ts: the one error type of trm. Library code throws a TrmError (or a subclass) whose
 * message says what went wrong, where (file:line, tensor name, kernel and shapes) and, where it
 * helps, how to fix it; the CLI prints `trm: <message>` and exits non-zero without a stack.
 */

export class TrmError extends Error {
  /** Stable machine-readable code, e.g. TRM_BAD_CSV, TRM_SHAPE. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'TrmError';
    this.code = code;
  }
}

/** A kernel or layer was handed arrays whose sizes do not fit together. */
export class ShapeError extends TrmError {
  constructor(message: string) {
    super('TRM_SHAPE', message);
    this.name = 'ShapeError';
  }
}

/** The command line itself is wrong (unknown flag, missing value): exit code 2. */
export class UsageError extends TrmError {
  constructor(message: string) {
    super('TRM_USAGE', message);
    this.name = 'UsageError';
  }
}

/**
 * `s` safe to print on a terminal: control characters (C0 except newline and tab, DEL, C1, which
 * include ESC sequences) and U+FFFD (bytes that were not UTF-8) become \xNN / \u{...} escapes,
 * so a binary file named in an error cannot garble or drive the terminal.
 */
export function printable(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffd\u2028\u2029]/gu, c => {
    const n = c.codePointAt(0)!;
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
}

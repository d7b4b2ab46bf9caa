// PolicyError: the one exception type the loader throws. Its message is always
// one line, "FILE:LINE: WHERE: REASON" (or "FILE: REASON" when no line applies,
// e.g. the file cannot be read), ready to print as is.

/** One problem found in a policy file. `line` and `column` are 1-based; 0 when unknown. */
export interface PolicyIssue {
  file: string;
  line: number;
  column: number;
  /** Where in the document, e.g. `rules[3].match.size` ('' for the document itself). */
  where: string;
  reason: string;
}

/** Formats an issue as the one-line message used everywhere. */
export function formatIssue(i: PolicyIssue): string {
  const loc = i.line > 0 ? `${i.file}:${i.line}` : i.file;
  return `${loc}: ${i.where ? `${i.where}: ` : ''}${i.reason}`;
}

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  /** Every problem found, sorted by line; the message is the first. Never empty. */
  readonly issues: readonly PolicyIssue[];
  readonly file: string;
  readonly line: number;
  readonly reason: string;

  constructor(issues: PolicyIssue[]) {
    const list = issues.length ? issues : [{ file: '<policy>', line: 0, column: 0, where: '', reason: 'invalid policy' }];
    super(oneLine(formatIssue(list[0])));
    this.issues = list;
    this.file = list[0].file;
    this.line = list[0].line;
    this.reason = list[0].reason;
  }

  /** All issues, one line each (for `passfs policy check`). */
  lines(): string[] {
    return this.issues.map((i) => oneLine(formatIssue(i)));
  }
}

/** Collapses any line breaks and control characters so a message stays on one line. */
export function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
}

/** Quotes a value taken from the policy file for an error message (short, one line). */
export function show(v: unknown): string {
  let s: string;
  try {
    if (typeof v === 'string') s = JSON.stringify(v);
    else if (v === undefined) s = 'nothing';
    else if (v === null) s = 'null';
    else if (typeof v === 'object') s = Array.isArray(v) ? 'a list' : v instanceof Uint8Array ? 'binary data' : 'a mapping';
    else s = String(v);
  } catch {
    s = 'a value';
  }
  s = oneLine(s);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

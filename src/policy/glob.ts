// Globs for paths, process names and executables, compiled once at load to
// plain RegExps (picomatch: the matcher behind micromatch, chokidar, fast-glob;
// well kept, no native code, bash-like syntax people already know).
//
// Dotfiles are handled explicitly: `*`, `?` and `**` DO match names that begin
// with a dot (picomatch's `dot: true`), so `secrets/**` covers `secrets/.env`
// and a deny rule cannot be sidestepped by a leading dot. To single dotfiles
// out, write the dot: `**/.*`.
import picomatch from 'picomatch';

export type GlobKind = 'path' | 'comm' | 'exe';

const OPTIONS: Record<GlobKind, picomatch.PicomatchOptions> = {
  // posix paths whatever the platform; `*` stops at `/`, `**` crosses it.
  path: { dot: true, windows: false },
  exe: { dot: true, windows: false },
  // Process names are not paths (kernel threads are called "kworker/0:1"):
  // `*` matches any characters there, `/` included.
  comm: { dot: true, windows: false, bash: true },
};

/** TASK_COMM_LEN - 1: the kernel keeps at most 15 bytes of a process name. */
export const COMM_MAX = 15;

export interface CompiledGlob {
  glob: string;
  test: (s: string) => boolean;
  /**
   * For the common shapes (see `shapeOf`): the test as a JavaScript
   * expression over the variable named `x`, for the generated decide()
   * (compile.ts); `test` is built from the same expression. Undefined when
   * the glob needs a regex.
   */
  expr?: (x: string) => string;
  /**
   * For the shapes that need only the path's last part, first part and
   * depth (see PathView): the test over variables `n`, `t` and `d`, exactly
   * equal to `expr` on every path. Undefined when the whole path is needed.
   */
  view?: ViewExpr;
}

/** An expression builder over the names of the view's variables (name, top, depth). */
export type ViewExpr = (n: string, t: string, d: string) => string;

export interface GlobList {
  globs: readonly string[];
  each: readonly CompiledGlob[];
}

const GLOB_CHARS = /[*?[\]{}()!+@\\]/;

/** Checks one glob; returns the reason it is refused, or undefined. */
export function checkGlob(g: unknown, kind: GlobKind): string | undefined {
  if (typeof g !== 'string') return `expected a glob (a string), got ${typeof g === 'object' ? (g === null ? 'null' : Array.isArray(g) ? 'a list' : 'a mapping') : String(g)}`;
  if (g === '') return 'an empty glob matches nothing';
  if (g.length > 4096) return 'the glob is longer than 4096 characters';
  if (g.includes('\0')) return 'the glob contains a NUL character';
  const body = g.replace(/^!+/, '');
  if (body === '') return `${JSON.stringify(g)} is not a glob`;
  if (kind === 'path') {
    if (body.startsWith('/')) return `${JSON.stringify(g)}: globs are relative to the mount root, drop the leading "/"`;
    if (body.endsWith('/')) return `${JSON.stringify(g)} never matches: paths have no trailing "/" (use "${body}**" for what is under it, or "${body.replace(/\/+$/, '')}" for the directory itself)`;
    if (body.includes('//')) return `${JSON.stringify(g)} never matches: paths have no empty parts ("//")`;
    if (body.split('/').some((p) => p === '.' || p === '..')) return `${JSON.stringify(g)} never matches: paths have no "." or ".." parts`;
  } else if (kind === 'exe') {
    if (!body.startsWith('/') && !body.startsWith('*')) return `${JSON.stringify(g)} never matches: executables are absolute paths (start with "/", or "**/" for any directory)`;
  } else if (kind === 'comm') {
    if (!GLOB_CHARS.test(body) && Buffer.byteLength(body) > COMM_MAX)
      return `${JSON.stringify(g)} never matches: the kernel keeps only the first ${COMM_MAX} bytes of a process name (use ${JSON.stringify(Buffer.from(body).subarray(0, COMM_MAX).toString())})`;
  }
  try {
    picomatch.makeRe(g, OPTIONS[kind]);
  } catch (e) {
    return `${JSON.stringify(g)} is not a valid glob: ${e instanceof Error ? e.message : String(e)}`;
  }
  return undefined;
}

/** A glob with wildcards but no "/" matches at the mount root only: worth a warning. */
export function rootOnlyWildcard(g: string): boolean {
  const body = g.replace(/^!+/, '');
  return !body.includes('/') && /[*?[{]/.test(body) && !body.startsWith('**');
}

/**
 * Compiles one glob (already checked). Same as picomatch(glob, opts)(s) but
 * without the result object picomatch allocates per call, and with one
 * correction: picomatch lets a trailing "/**" match zero segments only after
 * a literal name ("a/**" matches "a", "*\/**" does not match "a"); here
 * "X/**" always matches X itself too, as "**" matches zero or more segments
 * everywhere else.
 */
export function compileGlob(glob: string, kind: GlobKind): CompiledGlob {
  const opts = OPTIONS[kind];
  const negated = glob.startsWith('!') && !glob.startsWith('!!') && !glob.startsWith('!(');
  let body = negated ? glob.slice(1) : glob;
  // "**/**" is "**" (picomatch would not let the pair match zero segments).
  if (kind !== 'comm' && !/[\\[\]{}()]/.test(body)) body = body.split('/').filter((p, i, a) => !(p === '**' && a[i - 1] === '**')).join('/');
  // Process names and executables: only a literal is tested without a regex.
  const shape = negated ? undefined : kind === 'path' ? shapeOf(body) : LITERAL.test(body) ? { expr: (x: string) => `${x} === ${lit(body)}` } : undefined;
  // The expression holds string literals only (JSON.stringify), never code.
  if (shape) return { glob, ...shape, test: new Function('x', `return ${shape.expr('x')};`) as (s: string) => boolean };
  if (kind !== 'comm' && body.length > 3 && body.endsWith('/**') && !body.endsWith('\\/**')) {
    const a = picomatch.makeRe(body, opts);
    const prefix = body.slice(0, -3);
    const b = picomatch.makeRe(prefix, opts);
    const hit = (s: string) => s === body || s === prefix || a.test(s) || b.test(s);
    return { glob, test: negated ? (s: string) => s !== '' && !hit(s) : (s: string) => s !== '' && hit(s) };
  }
  const src = negated ? `!${body}` : body;
  const re = picomatch.makeRe(src, opts);
  // picomatch's own matcher: empty input never matches; the glob itself always does.
  return { glob, test: (s: string) => s !== '' && (s === src || re.test(s)) };
}

const LITERAL = /^[^*?[\]{}()!+@\\]+$/;

/**
 * The shapes most path globs take, tested as string comparisons instead of
 * picomatch's regexes (which backtrack over the whole path, and each is a
 * call of its own: a decision may try a dozen, at every open). Each is exactly
 * the documented semantics on the paths the daemon produces (no leading,
 * trailing or doubled "/", no "." or ".." parts); the property tests hold
 * them to the reference matcher. Anything else is left to picomatch.
 *
 * Most shapes also have a `view` form that reads only the path's last part
 * (n), first part (t) and depth (d): the daemon can give those without
 * building the path string (src/fs/paths.ts, viewOf). Suffixes and names
 * have no "/" (checked below), so a suffix of the path is a suffix of its
 * last part, and "DIR/" starts the path exactly when DIR is its first part.
 */
function shapeOf(g: string): { expr: (x: string) => string; view?: ViewExpr } | undefined {
  if (g === '**') return { expr: (x) => `${x} !== ''`, view: (_n, _t, d) => `${d} !== 0` };
  if (LITERAL.test(g)) {
    const parts = g.split('/');
    return {
      expr: (x) => `${x} === ${lit(g)}`,
      view: parts.length === 1 ? (n, _t, d) => `(${d} === 1 && ${n} === ${lit(g)})`
        : parts.length === 2 ? (n, t, d) => `(${d} === 2 && ${n} === ${lit(parts[1])} && ${t} === ${lit(parts[0])})` : undefined,
    };
  }
  // "**/NAME": NAME at any depth.
  if (g.startsWith('**/') && LITERAL.test(g.slice(3)) && !g.includes('/', 3)) {
    return { expr: (x) => `(${x} === ${lit(g.slice(3))} || ${x}.endsWith(${lit(g.slice(2))}))`, view: (n) => `${n} === ${lit(g.slice(3))}` };
  }
  // "**/*SUFFIX": a last part ending in SUFFIX ("*" may match nothing).
  if (g.startsWith('**/*') && LITERAL.test(g.slice(4)) && !g.includes('/', 3)) {
    return { expr: (x) => `${x}.endsWith(${lit(g.slice(4))})`, view: (n) => `${n}.endsWith(${lit(g.slice(4))})` };
  }
  // "*SUFFIX": a name at the root ending in SUFFIX.
  if (g.startsWith('*') && LITERAL.test(g.slice(1)) && !g.includes('/')) {
    return { expr: (x) => `(${x}.endsWith(${lit(g.slice(1))}) && !${x}.includes('/'))`, view: (n, _t, d) => `(${d} === 1 && ${n}.endsWith(${lit(g.slice(1))}))` };
  }
  // "DIR/**": DIR and everything under it.
  if (g.endsWith('/**') && LITERAL.test(g.slice(0, -3))) {
    const dir = g.slice(0, -3);
    return {
      expr: (x) => `(${x} === ${lit(dir)} || ${x}.startsWith(${lit(dir + '/')}))`,
      view: dir.includes('/') ? undefined : (_n, t) => `${t} === ${lit(dir)}`,
    };
  }
  // "DIR/**/*SUFFIX": under DIR at any depth, a last part ending in SUFFIX
  // (which has no "/", so it cannot overlap DIR/).
  const m = /^([^*?[\]{}()!+@\\]+)\/\*\*\/\*([^*?[\]{}()!+@\\/]*)$/.exec(g);
  if (m) {
    return {
      expr: (x) => `(${x}.startsWith(${lit(m[1] + '/')}) && ${x}.endsWith(${lit(m[2])}))`,
      view: m[1].includes('/') ? undefined : (n, t, d) => `(${d} >= 2 && ${t} === ${lit(m[1])} && ${n}.endsWith(${lit(m[2])}))`,
    };
  }
  return undefined;
}

/** A string as a JavaScript string literal. */
function lit(s: string): string {
  return JSON.stringify(s);
}

export function compileGlobs(globs: readonly string[], kind: GlobKind): GlobList {
  return { globs, each: globs.map((g) => compileGlob(g, kind)) };
}

/** The picomatch options used for a kind (for tests comparing with picomatch itself). */
export function globOptions(kind: GlobKind): picomatch.PicomatchOptions {
  return { ...OPTIONS[kind] };
}

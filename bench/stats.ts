// The figures of a set of repetitions: median, spread, ratio to native, and
// the sign test of a paired comparison.

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
}

/** Median and min/max of the finite values (failed runs are left out). */
export function spread(xs: number[]): Spread {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { n: 0, median: NaN, min: NaN, max: NaN };
  return { n: v.length, median: median(v), min: Math.min(...v), max: Math.max(...v) };
}

/**
 * Ratio of a mode to native, oriented so that higher is better and 1.0 is
 * native: mode/native for throughputs, native/mode for times. null when either
 * side is missing.
 */
export function ratioToNative(mode: number, native: number, higherIsBetter: boolean): number | null {
  if (!Number.isFinite(mode) || !Number.isFinite(native) || mode <= 0 || native <= 0) return null;
  return higherIsBetter ? mode / native : native / mode;
}

/** Spread as percentages of the median ("-3%/+4%"), unit-free. */
export function spreadPercent(s: Spread): string {
  if (s.n < 2 || !(s.median > 0)) return '';
  const lo = Math.round(((s.min - s.median) / s.median) * 100);
  const hi = Math.round(((s.max - s.median) / s.median) * 100);
  return `${lo === 0 ? '-0' : lo}%/+${hi}%`;
}

/**
 * Two-sided exact sign test: the probability, if B were as likely to do worse
 * as better than A in each repetition, of a split at least as uneven as
 * `worse` of `n` (ties left out beforehand). 1 for n = 0. Written here
 * rather than taken from a package: it is the binomial sum below, and the
 * bench has no other use for a statistics library.
 */
export function signTest(worse: number, n: number): number {
  if (n <= 0) return 1;
  return Math.min(1, 2 * halfBinomialTail(Math.max(worse, n - worse), n));
}

/** P(X >= k) for X ~ Binomial(n, 1/2), summed in logs to stay finite for large n. */
function halfBinomialTail(k: number, n: number): number {
  let logC = 0; // log C(n, 0)
  let tail = 0;
  for (let i = 0; i <= n; i++) {
    if (i > 0) logC += Math.log((n - i + 1) / i);
    if (i >= k) tail += Math.exp(logC - n * Math.LN2);
  }
  return tail;
}

/**
 * A confidence interval for the median of `xs` that assumes nothing about
 * their distribution (the one that goes with the sign test): the k-th
 * smallest and k-th largest values, for the largest k that leaves at most
 * (1 - level) / 2 on each side, P(Binomial(n, 1/2) < k). null when there are
 * too few values for the level (fewer than 6 for 95%).
 */
export function medianInterval(xs: number[], level = 0.95): [number, number] | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  let k = 0;
  // P(X < k + 1) = P(X >= n - k) by symmetry.
  while (k + 1 <= n && halfBinomialTail(n - k, n) <= (1 - level) / 2) k++;
  return k === 0 ? null : [v[k - 1], v[n - k]];
}

// The figures of a set of repetitions: median, spread, ratio to native.

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

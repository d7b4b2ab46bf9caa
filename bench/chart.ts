// The SVG chart of a result: ratios to native (higher is better), one group
// of bars per job (per phase for the small-files job), one colour per mode, a
// dashed line at 1.0 (native), and a whisker per bar from the lowest to the
// highest repetition (each against native's median). Plain standalone SVG 1.1, no scripts, no fonts
// to fetch: a browser shows the file as is.
import type { BenchResult } from './results.js';
import { ratioToNative } from './stats.js';

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export interface ChartGroup {
  job: string;
  metric: string;
  label: string;
}

/** The groups of bars: fio jobs by MiB/s (IOPS gives the same ratio), every phase of the metadata jobs. */
export function chartGroups(r: BenchResult): ChartGroup[] {
  const out: ChartGroup[] = [];
  for (const j of r.jobs) {
    if (j.kind === 'fio') out.push({ job: j.name, metric: 'MiB/s', label: j.name });
    else if (j.kind === 'files') for (const m of j.metrics) out.push({ job: j.name, metric: m.key, label: `files: ${m.key}` });
    else for (const m of j.metrics) out.push({ job: j.name, metric: m.key, label: j.name });
  }
  return out;
}

export function renderChart(r: BenchResult): string {
  const modes = r.parameters.modes.filter((m) => m !== 'native');
  const hasNative = r.parameters.modes.includes('native');
  const groups = chartGroups(r);
  const ratio = (g: ChartGroup, mode: string) =>
    r.summary.find((s) => s.job === g.job && s.metric === g.metric && s.mode === mode)?.ratio ?? null;
  const row = (g: ChartGroup, mode: string) => r.summary.find((s) => s.job === g.job && s.metric === g.metric && s.mode === mode);
  /** The ratios of the worst and best repetition of `mode` (against native's median); null with one sample. */
  const range = (g: ChartGroup, mode: string): [number, number] | null => {
    const s = row(g, mode);
    const nat = row(g, 'native')?.median;
    if (!s || s.n < 2 || s.min === null || s.max === null || !nat) return null;
    const a = ratioToNative(s.min, nat, s.higherIsBetter);
    const b = ratioToNative(s.max, nat, s.higherIsBetter);
    return a === null || b === null ? null : [Math.min(a, b), Math.max(a, b)];
  };
  const all = groups.flatMap((g) => modes.map((m) => ratio(g, m))).filter((x): x is number => x !== null);
  // The axis stops at CAP: a far outlier would flatten every other bar; its
  // bar is drawn to the top and its label keeps the value.
  const CAP = 2;
  const maxRatio = Math.min(CAP, Math.max(1.2, ...all.map((x) => x * 1.08)));
  const step = maxRatio > 1.6 ? 0.25 : 0.2;
  const yMax = Math.min(CAP, Math.ceil(maxRatio / step - 1e-9) * step);

  const bar = 16;
  const gap = 18;
  const groupW = Math.max(1, modes.length) * bar + gap;
  const left = 64;
  const right = 24;
  const top = 100;
  const plotH = 300;
  const bottom = 118;
  const p = r.parameters;
  // The subtitle in two lines, and the picture wide enough for the longer (about 6.2 px a character at 12 px).
  const subtitle = [
    `${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, kernel ${r.machine.kernel}, ${r.machine.cpus} CPUs, file ${p.size}`,
    p.reps > 1 ? `median of ${p.reps} reps, whiskers: lowest to highest rep; fio by MiB/s, metadata by time (native s / mode s)`
      : 'one rep: single samples, no spread; fio by MiB/s, metadata by time (native s / mode s)',
  ];
  const footer = `modes: ${r.parameters.modes.join(', ')}; passfs ${r.versions.passfs}, fio ${r.versions.fio}${all.some((v) => v > yMax) ? `; \u25B2 bar cut at the top of the axis (${yMax.toFixed(1)}), label gives its value` : ''}`;
  const textW = Math.max(...subtitle.map((l) => l.length * 6.2), footer.length * 5.2);
  const width = Math.ceil(Math.max(560, left + groups.length * groupW + right, left + textW + right));
  const height = top + plotH + bottom;
  const y = (v: number) => top + plotH - (Math.min(v, yMax) / yMax) * plotH;

  const o: string[] = [];
  o.push('<?xml version="1.0" encoding="UTF-8"?>');
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  o.push('<title>passfs bench: ratio to native (higher is better)</title>');
  o.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  o.push(`<text x="${left}" y="24" font-size="16" font-weight="bold">passfs: ratio to native, higher is better</text>`);
  subtitle.forEach((l, i) => o.push(`<text class="subtitle" x="${left}" y="${42 + i * 15}" fill="#555">${escapeXml(l)}</text>`));

  // Legend.
  let lx = left;
  modes.forEach((m, i) => {
    o.push(`<rect x="${lx}" y="70" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`);
    o.push(`<text x="${lx + 16}" y="81">${escapeXml(m)}</text>`);
    lx += 28 + m.length * 7;
  });
  o.push(`<line x1="${lx}" y1="76" x2="${lx + 22}" y2="76" stroke="#c00" stroke-width="1.5" stroke-dasharray="5,3"/>`);
  o.push(`<text x="${lx + 27}" y="81">native = 1.0</text>`);

  // Axis and grid.
  o.push('<g stroke="#ddd" stroke-width="1">');
  for (let v = 0; v <= yMax + 1e-9; v += step) o.push(`<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${width - right}" y2="${y(v).toFixed(1)}"/>`);
  o.push('</g>');
  o.push('<g fill="#555" text-anchor="end">');
  for (let v = 0; v <= yMax + 1e-9; v += step) o.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}">${v.toFixed(step < 0.25 ? 1 : 2)}</text>`);
  o.push('</g>');
  o.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#888"/>`);
  o.push(`<line x1="${left}" y1="${top + plotH}" x2="${width - right}" y2="${top + plotH}" stroke="#888"/>`);
  o.push(`<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#555">ratio to native</text>`);

  // Bars.
  groups.forEach((g, gi) => {
    const gx = left + gap / 2 + gi * groupW;
    modes.forEach((m, mi) => {
      const v = ratio(g, m);
      const x = gx + mi * bar;
      const attrs = `data-job="${escapeXml(g.job)}" data-metric="${escapeXml(g.metric)}" data-mode="${escapeXml(m)}"`;
      if (v === null) {
        o.push(`<rect class="bar missing" ${attrs} x="${x}" y="${top + plotH}" width="${bar - 2}" height="0" fill="none"><title>${escapeXml(`${g.label}, ${m}: no figure`)}</title></rect>`);
        o.push(`<text x="${x + (bar - 2) / 2}" y="${top + plotH - 4}" text-anchor="middle" font-size="10" fill="#c00">${hasNative ? '×' : ''}</text>`);
        return;
      }
      const h = top + plotH - y(v);
      const rg = range(g, m);
      const spreadNote = rg ? ` (reps ${rg[0].toFixed(2)} to ${rg[1].toFixed(2)})` : '';
      o.push(`<rect class="bar" ${attrs} data-ratio="${v.toFixed(4)}" x="${x}" y="${y(v).toFixed(1)}" width="${bar - 2}" height="${h.toFixed(1)}" fill="${PALETTE[mi % PALETTE.length]}"><title>${escapeXml(`${g.label}, ${m}: ${v.toFixed(2)}x native${spreadNote}`)}</title></rect>`);
      if (rg) {
        // The whisker: a line from the worst to the best repetition, with caps.
        const cx = (x + (bar - 2) / 2).toFixed(1);
        const [lo, hi] = [y(rg[0]).toFixed(1), y(rg[1]).toFixed(1)];
        o.push(`<g class="whisker" ${attrs} data-min="${rg[0].toFixed(4)}" data-max="${rg[1].toFixed(4)}" stroke="#222" stroke-width="1">` +
          `<line x1="${cx}" y1="${lo}" x2="${cx}" y2="${hi}"/><line x1="${x + 3}" y1="${lo}" x2="${x + bar - 5}" y2="${lo}"/><line x1="${x + 3}" y1="${hi}" x2="${x + bar - 5}" y2="${hi}"/></g>`);
      }
      // The value above the bar, or inside its top in white when there is no room above.
      const label = `${v.toFixed(2)}${v > yMax ? ' \u25B6' : ''}`;
      const above = y(v) - 4 - label.length * 6 >= top;
      const tx = (x + (bar - 2) / 2 + 3.5).toFixed(1);
      o.push(above
        ? `<text transform="translate(${tx} ${(y(v) - 4).toFixed(1)}) rotate(-90)" font-size="10" fill="#333">${label}</text>`
        : `<text transform="translate(${tx} ${(y(v) + 4).toFixed(1)}) rotate(-90)" font-size="10" fill="#fff" text-anchor="end">${label}</text>`);
    });
    const lxg = gx + (modes.length * bar) / 2;
    o.push(`<text transform="translate(${lxg.toFixed(1)} ${top + plotH + 14}) rotate(-40)" text-anchor="end">${escapeXml(g.label)}</text>`);
  });

  // The native line, over the bars.
  o.push(`<line x1="${left}" y1="${y(1).toFixed(1)}" x2="${width - right}" y2="${y(1).toFixed(1)}" stroke="#c00" stroke-width="1.5" stroke-dasharray="5,3"/>`);
  if (!hasNative) o.push(`<text x="${left + 10}" y="${top + 20}" fill="#c00">no native mode in this run: no ratios</text>`);
  o.push(`<text x="${left}" y="${height - 10}" fill="#777" font-size="10">${escapeXml(footer)}</text>`);
  o.push('</svg>');
  return o.join('\n') + '\n';
}

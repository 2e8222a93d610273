/** Latency summaries and the plain-text tables the benches print. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarise(latenciesMs: number[]): LatencySummary {
  const sorted = Float64Array.from(latenciesMs).sort();
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
  };
}

export function fixed(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** A Markdown table, columns padded so it also reads well in a terminal. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Completions per second in each of `parts` equal slices of the completions (shows drift over a run). */
export function ratesBySlice(completionsMs: number[], parts = 4): number[] {
  const rates: number[] = [];
  const size = Math.floor(completionsMs.length / parts);
  if (size === 0) return rates;
  for (let i = 0; i < parts; i++) {
    const from = i === 0 ? 0 : completionsMs[i * size - 1];
    const to = completionsMs[(i + 1) * size - 1];
    rates.push(to > from ? (size * 1000) / (to - from) : NaN);
  }
  return rates;
}

/** The columns every load phase reports, in the order the bench tables print them. */
export function loadColumns(f: {
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}): string[] {
  return [
    fixed(f.seconds, 1),
    fixed(f.perSecond, 0),
    fixed(f.p50, 1),
    fixed(f.p99, 1),
    String(f.errors),
  ];
}

/** Headers for loadColumns, with the rate named after what was counted (`orders/s`). */
export function loadHeaders(rate: string): string[] {
  return ['seconds', rate, 'p50 ms', 'p99 ms', 'errors'];
}

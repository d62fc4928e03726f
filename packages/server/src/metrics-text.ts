/**
 * A reader for the Prometheus text exposition format (what `GET /metrics` answers), enough for
 * `openblaze stats` and the tests: samples with their labels, sums over label filters, and
 * quantiles estimated from histogram buckets.
 */

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

function number(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

export function parsePrometheusText(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1]!] = unescape(l[2]!);
    out.push({ name: m[1]!, labels, value: number(m[3]!) });
  }
  return out;
}

/** Samples of one metric whose labels include every pair of `filter`. */
export function samplesOf(samples: readonly PromSample[], name: string, filter: Record<string, string> = {}): PromSample[] {
  return samples.filter((s) => s.name === name && Object.entries(filter).every(([k, v]) => s.labels[k] === v));
}

/** Sum of the matching samples (0 when none). */
export function sumOf(samples: readonly PromSample[], name: string, filter: Record<string, string> = {}): number {
  return samplesOf(samples, name, filter).reduce((a, s) => a + s.value, 0);
}

/** Per value of `label`, the sum over the other labels. */
export function byLabel(samples: readonly PromSample[], name: string, label: string, filter: Record<string, string> = {}): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samplesOf(samples, name, filter)) {
    const k = s.labels[label] ?? "";
    out.set(k, (out.get(k) ?? 0) + s.value);
  }
  return out;
}

/**
 * The q-quantile (0..1) of a histogram `name` (its `_bucket` series, summed over other labels),
 * interpolated linearly inside the bucket, as Prometheus' histogram_quantile does. undefined when
 * the histogram is empty.
 */
export function histogramQuantile(samples: readonly PromSample[], name: string, q: number, filter: Record<string, string> = {}): number | undefined {
  const buckets = [...byLabel(samples, `${name}_bucket`, "le", filter)].map(([le, n]) => ({ le: number(le), n })).sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.n ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevN = 0;
  for (const b of buckets) {
    if (b.n >= rank) {
      if (b.le === Infinity) return prevLe;
      return b.n === prevN ? b.le : prevLe + ((b.le - prevLe) * (rank - prevN)) / (b.n - prevN);
    }
    prevLe = b.le;
    prevN = b.n;
  }
  return prevLe;
}

// Percentiles, medians and ratios.

/** The p-th percentile (0..100) of `values`, nearest-rank; NaN when empty. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** The median of the finite `values`; NaN when there are none. */
export function median(values) {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `x / y`, or NaN when either is not a number or `y` is 0. */
export function ratio(x, y) {
  return Number.isFinite(x) && Number.isFinite(y) && y !== 0 ? x / y : NaN;
}

/**
 * The median, min and max of per-round ratios `x[i] / y[i]` (each round's two numbers measured a few
 * seconds apart, so machine-wide drift between rounds cancels out).
 */
export function ratioStats(xs, ys) {
  const ratios = xs.map((x, i) => ratio(x, ys[i])).filter((v) => Number.isFinite(v));
  return {
    median: median(ratios),
    min: ratios.length ? Math.min(...ratios) : NaN,
    max: ratios.length ? Math.max(...ratios) : NaN,
    n: ratios.length,
  };
}

/** `n` with `digits` decimals, or '–' when not a number. */
export function fmt(n, digits = 0) {
  return Number.isFinite(n) ? n.toFixed(digits) : '–';
}

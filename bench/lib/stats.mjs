// Small statistics helpers (no dependencies).

export function quantile(values, q) {
  const s = values.filter((v) => typeof v === "number" && Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export const median = (values) => quantile(values, 0.5);

/** Interquartile range as [q1, q3], or null. */
export function iqr(values) {
  const q1 = quantile(values, 0.25);
  return q1 === null ? null : [q1, quantile(values, 0.75)];
}

/** The value at quantile `q` (0–1) of an ascending array; `NaN` when empty. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[index]!
}

export function median(values: readonly number[]): number {
  return percentile(Float64Array.from(values).sort(), 0.5)
}

/** Order statistics for the benches' repeated runs: the nearest-rank percentile, and the median. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
}

export const median = (values: ReadonlyArray<number>): number => percentile(values, 50)

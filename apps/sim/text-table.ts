/**
 * Plain-text tables for reports (simulator, replay stats, benchmarks): columns padded to their
 * widest cell, numbers right-aligned. Cells are trusted text made by the caller (sanitise first).
 */

export type Cell = string | number

export interface TableOptions {
  readonly title?: string
  readonly headers: ReadonlyArray<string>
}

const isNumeric = (cell: Cell): boolean => typeof cell === "number" || /^[-+]?[0-9][0-9,.]*( ?[a-zA-Z/%×]+)?$/.test(cell)

/** Thousands separated, at most `decimals` decimals: 1234567.8 → "1,234,567.8". */
export const formatNumber = (value: number, decimals = 0): string =>
  value.toLocaleString("en-US", { maximumFractionDigits: decimals, minimumFractionDigits: 0 })

const text = (cell: Cell): string => (typeof cell === "number" ? formatNumber(cell, 2) : cell)

export const renderTable = (rows: ReadonlyArray<ReadonlyArray<Cell>>, options: TableOptions): string => {
  const columns = options.headers.length
  const widths = options.headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => text(row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<Cell>, header: boolean): string =>
    Array.from({ length: columns }, (_, column) => {
      const cell = cells[column] ?? ""
      const width = widths[column]!
      // First column and headers read left to right; numbers line up on the right.
      return !header && column > 0 && isNumeric(cell) ? text(cell).padStart(width) : text(cell).padEnd(width)
    }).join("  ").trimEnd()
  const rule = widths.map((width) => "-".repeat(width)).join("  ")
  return [
    ...(options.title === undefined ? [] : [options.title]),
    line(options.headers, true),
    rule,
    ...rows.map((row) => line(row, false)),
  ].join("\n")
}

/**
 * Reading a tmux screen more closely than `capture-pane -p` text: what the terminal itself says a
 * piece of text measures (measure-widths-child.ts), the terminal columns of a captured row, the
 * colours of each cell (`capture-pane -e`), and a capture taken once the screen stopped changing.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { TmuxServer } from "./tmux.ts"

const POLL_INTERVAL_MS = 100
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" })

export const graphemesOf = (text: string): ReadonlyArray<string> => Array.from(segmenter.segment(text), (s) => s.segment)

/**
 * The width tmux gives each sample, measured by writing it in `window` (a shell in the project's
 * directory) and asking for the cursor position.
 */
export const measureWidths = async (tmux: TmuxServer, window: string, tsx: string, samples: ReadonlyArray<string>): Promise<ReadonlyArray<number>> => {
  const dir = mkdtempSync(join(tmpdir(), "mqtt-chat-widths-"))
  try {
    const samplesFile = join(dir, "samples.json")
    const widthsFile = join(dir, "widths.json")
    writeFileSync(samplesFile, JSON.stringify(samples))
    await tmux.line(window, `clear; ${tsx} tests/support/measure-widths-child.ts ${samplesFile} ${widthsFile}`)
    const deadline = Date.now() + 30_000
    // Bounded by the deadline.
    while (!existsSync(widthsFile)) {
      if (Date.now() > deadline) throw new Error(`no widths measured in 30 s\n${await tmux.capture(window)}`)
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS))
    }
    await tmux.waitFor(window, "the measuring child is done", "measured")
    const widths: ReadonlyArray<number> = JSON.parse(readFileSync(widthsFile, "utf8"))
    if (widths.length !== samples.length) throw new Error(`measured ${widths.length} of ${samples.length} samples`)
    return widths
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The row as terminal columns: each grapheme at its first column, "" on the columns it covers
 * beyond. `widthOf` gives a grapheme's width (as tmux measured it).
 */
export const columnsOf = (row: string, widthOf: (grapheme: string) => number): ReadonlyArray<string> => {
  const columns: string[] = []
  for (const grapheme of graphemesOf(row)) {
    const width = widthOf(grapheme)
    columns.push(grapheme)
    for (let k = 1; k < width; k++) columns.push("")
  }
  return columns
}

/** Polls until two captures in a row are the same (nothing is being drawn), at most `timeoutMs`. */
export const settledCapture = async (tmux: TmuxServer, window: string, options: { readonly styled?: boolean; readonly timeoutMs?: number } = {}): Promise<string> => {
  const capture = () => (options.styled === true ? tmux.captureStyled(window) : tmux.capture(window))
  const deadline = Date.now() + (options.timeoutMs ?? 10_000)
  let previous = await capture()
  // Bounded by the deadline.
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 2 * POLL_INTERVAL_MS))
    const next = await capture()
    if (next === previous) return next
    if (Date.now() > deadline) throw new Error(`the screen of ${window} kept changing\n${next}`)
    previous = next
  }
}

export interface StyledCell {
  readonly text: string
  /** "default", "0".."15" (the 16 basic colours), "256:n" or "rgb:r,g,b". */
  readonly fg: string
  readonly bg: string
  readonly reverse: boolean
}

const basic = (n: number): string => String(n)
const extended = (params: ReadonlyArray<number>, at: number): { readonly colour: string; readonly used: number } => {
  if (params[at + 1] === 5) {
    const n = params[at + 2] ?? 0
    return { colour: n < 16 ? basic(n) : `256:${n}`, used: 3 }
  }
  if (params[at + 1] === 2) return { colour: `rgb:${params[at + 2] ?? 0},${params[at + 3] ?? 0},${params[at + 4] ?? 0}`, used: 5 }
  return { colour: "default", used: 1 }
}

/** The cells (graphemes) of each row of a `capture-pane -e` capture, with the colours they are drawn in. */
export const parseStyled = (capture: string): ReadonlyArray<ReadonlyArray<StyledCell>> =>
  capture.split("\n").map((row) => {
    let fg = "default"
    let bg = "default"
    let reverse = false
    const cells: StyledCell[] = []
    const sgr = /\u001b\[([0-9;:]*)m/g
    let last = 0
    const text = (part: string) => {
      for (const grapheme of graphemesOf(part)) cells.push({ text: grapheme, fg, bg, reverse })
    }
    for (const match of row.matchAll(sgr)) {
      text(row.slice(last, match.index))
      last = match.index + match[0].length
      const params = match[1] === "" ? [0] : match[1]!.split(/[;:]/).map((p) => Number(p))
      // Each parameter is consumed once (extended colours take their arguments with them).
      for (let i = 0; i < params.length; i++) {
        const p = params[i]!
        if (p === 0) {
          fg = "default"
          bg = "default"
          reverse = false
        } else if (p === 7) reverse = true
        else if (p === 27) reverse = false
        else if (p >= 30 && p <= 37) fg = basic(p - 30)
        else if (p >= 90 && p <= 97) fg = basic(p - 90 + 8)
        else if (p === 39) fg = "default"
        else if (p >= 40 && p <= 47) bg = basic(p - 40)
        else if (p >= 100 && p <= 107) bg = basic(p - 100 + 8)
        else if (p === 49) bg = "default"
        else if (p === 38 || p === 48) {
          const { colour, used } = extended(params, i)
          if (p === 38) fg = colour
          else bg = colour
          i += used - 1
        }
      }
    }
    text(row.slice(last).replace(/\u001b\[[0-9;:]*[A-Za-z]/g, ""))
    return cells
  })

const BLACK = new Set(["0", "256:16", "rgb:0,0,0"])

/** Cells whose text is drawn in black on the terminal's default background: invisible on a dark one. */
export const blackOnDefault = (rows: ReadonlyArray<ReadonlyArray<StyledCell>>): ReadonlyArray<{ readonly row: number; readonly text: string }> => {
  const found: Array<{ row: number; text: string }> = []
  rows.forEach((cells, row) => {
    for (const cell of cells) {
      if (cell.text.trim() === "") continue
      const fg = cell.reverse ? cell.bg : cell.fg
      const bg = cell.reverse ? cell.fg : cell.bg
      if (BLACK.has(fg) && bg === "default") found.push({ row, text: cell.text })
    }
  })
  return found
}

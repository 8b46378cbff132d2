/**
 * Wrapping of blessed-tagged lines to a width, by grapheme cluster and terminal columns, so that
 * blessed never has to: its own wrapping counts UTF-16 units and may split a wide character or an
 * emoji from the cell it covers. Lines break after the last blank when there is one near the end,
 * else at the width (CJK text has no blanks). Tags take no room and stay where they were: blessed
 * carries colours over line breaks.
 */
import { clusterWidth, displayWidth, graphemes } from "./text-width.ts"

/** A blessed tag: `{bold}`, `{/grey-fg}`, `{open}` (a literal brace, one column). */
const TAG = /\{\/?[\w\-,;!#]*\}/g
/** A break goes after a blank at most this many columns back from the width (as blessed does). */
const BREAK_LOOKBACK_COLUMNS = 10

interface Piece {
  readonly text: string
  readonly width: number
  readonly blank: boolean
}

const piecesOf = (line: string): ReadonlyArray<Piece> => {
  const pieces: Piece[] = []
  let last = 0
  const text = (part: string) => {
    for (const cluster of graphemes(part)) pieces.push({ text: cluster, width: clusterWidth(cluster), blank: cluster === " " })
  }
  for (const match of line.matchAll(TAG)) {
    text(line.slice(last, match.index))
    const tag = match[0]
    pieces.push({ text: tag, width: tag === "{open}" || tag === "{close}" ? 1 : 0, blank: false })
    last = match.index + tag.length
  }
  text(line.slice(last))
  return pieces
}

/** `line` (no line feeds) as rows of at most `width` columns; a line that fits comes back as it is. */
export const wrapTaggedLine = (line: string, width: number): ReadonlyArray<string> => {
  // No code unit takes more than two columns: a line this short fits without measuring.
  if (width <= 0 || line.length * 2 <= width) return [line]
  if (displayWidth(line.replace(TAG, (tag) => (tag === "{open}" || tag === "{close}" ? "{" : ""))) <= width) return [line]
  const pieces = piecesOf(line)
  const rows: string[] = []
  let row: Piece[] = []
  let rowWidth = 0
  // Each piece is placed once; a carried-over tail is at most one row long.
  for (const piece of pieces) {
    if (rowWidth + piece.width > width && rowWidth > 0) {
      let breakAt = -1
      let tailWidth = 0
      for (let i = row.length - 1; i > 0 && tailWidth <= BREAK_LOOKBACK_COLUMNS; i--) {
        if (row[i]!.blank) {
          breakAt = i + 1
          break
        }
        tailWidth += row[i]!.width
      }
      // The words after the blank move down with the piece, if they fit with it.
      if (breakAt > 0 && tailWidth + piece.width > width) breakAt = -1
      const tail = breakAt > 0 ? row.slice(breakAt) : []
      rows.push(row.slice(0, breakAt > 0 ? breakAt : row.length).map((p) => p.text).join(""))
      row = tail
      rowWidth = tail.reduce((sum, p) => sum + p.width, 0)
    }
    row.push(piece)
    rowWidth += piece.width
  }
  rows.push(row.map((p) => p.text).join(""))
  return rows
}

/** Every line wrapped (lines may hold line feeds). */
export const wrapTaggedLines = (lines: ReadonlyArray<string>, width: number): ReadonlyArray<string> =>
  lines.flatMap((line) => line.split("\n").flatMap((part) => wrapTaggedLine(part, width)))

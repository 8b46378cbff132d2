/**
 * Makes blessed draw the widths text-width.ts measures. blessed's own Unicode handling counts an
 * emoji as one column, splits a flag or a skin-tone emoji into several cells and advances the
 * terminal's cursor by what it believes; where the terminal disagrees, everything after on the row
 * lands in the wrong column and cells that blessed thinks are blank keep old glyphs ("ghosts")
 * until Ctrl-L.
 *
 * So blessed is given only text in which one UTF-16 unit is one cell:
 * - printable characters blessed measures as we do pass as they are (ASCII, most BMP letters, and
 *   CJK, which blessed already follows with a blank cell of its own, U+0003);
 * - every other grapheme cluster (emoji, flags, combining sequences, anything astral) becomes a
 *   placeholder from the Private Use Area followed by one FILLER per further column.
 * Just before each draw the placeholders of the rows being drawn are replaced by the cluster
 * itself, written at its own column: blank its cells, write it, and move to the column after it
 * with absolute positions. A terminal that draws the cluster narrower or wider than measured then
 * shows a blank or a clipped glyph, but every following cell is where blessed thinks it is. Half of
 * a cluster covered by another element (a popup border) is drawn blank, never half a glyph.
 */
import blessed from "blessed"
import type { Widgets } from "blessed"
import { graphemes } from "./text-width.ts"
import { REPLACEMENT, shownCluster } from "./unicode-width.ts"

interface BlessedUnicode {
  charWidth(point: number): number
  readonly combining: Readonly<Record<number, boolean>>
  readonly chars: { readonly wide: RegExp }
}

const unicode = (blessed as unknown as { readonly unicode: BlessedUnicode }).unicode
/** blessed puts this after each CJK character it knows as wide (parseContent) and skips it when drawing. */
const BLESSED_WIDE_FILL = "\u0003"
const blessedWide = new RegExp(unicode.chars.wide.source)

const PLACEHOLDER_FIRST = 0xe000
/** U+F8FF is the filler; placeholders take the rest of the BMP Private Use Area. */
const PLACEHOLDER_LAST = 0xf8fe
export const FILLER = "\uf8ff"
const FILLER_CODE = 0xf8ff
/**
 * Past this many clusters the table starts over at the next render and every element is encoded
 * again from its raw text, when at least RESET_AFTER_NEW were added since the last start-over (so
 * a screen that really shows that many is not encoded again on every render). Past the table's
 * capacity new clusters are shown as U+FFFD until the next start-over.
 */
export const RESET_AT = 4_096
const RESET_AFTER_NEW = 1_024
/** Encoded clusters remembered (most are CJK and accented letters that need no placeholder). */
const MEMO_LIMIT = 16_384

const isPrivateUse = (code: number): boolean => code >= PLACEHOLDER_FIRST && code <= FILLER_CODE

/** One unit that blessed draws in one cell, as we measure it. */
const blessedNarrow = (char: string, code: number): boolean =>
  code >= 0x20 && !(code >= 0x7f && code < 0xa0) && !isPrivateUse(code) && unicode.combining[code] !== true && !blessedWide.test(char) && unicode.charWidth(code) === 1

/** One unit that blessed draws over two cells (it adds the blank cell itself). */
const blessedDoubleWidth = (char: string, code: number): boolean => unicode.combining[code] !== true && blessedWide.test(char) && unicode.charWidth(code) === 2

interface Placed {
  readonly text: string
  readonly width: number
}

/** Which placeholder stands for which cluster; bounded by the Private Use Area (see RESET_AT). */
export class ClusterTable {
  private readonly codes = new Map<string, number>()
  private readonly cells = new Map<string, string>()
  private placed: Placed[] = []

  get size(): number {
    return this.placed.length
  }

  /** The placeholder for `text`, or null when the table is full. */
  placeholderFor(text: string, width: number): string | null {
    let code = this.codes.get(text)
    if (code === undefined) {
      if (PLACEHOLDER_FIRST + this.placed.length > PLACEHOLDER_LAST) return null
      code = PLACEHOLDER_FIRST + this.placed.length
      this.codes.set(text, code)
      this.placed.push({ text, width })
    }
    return String.fromCharCode(code)
  }

  /** The cells for one cluster (memoised until the table starts over). */
  encoded(cluster: string): string {
    let cells = this.cells.get(cluster)
    if (cells === undefined) {
      cells = encodeCluster(cluster, this)
      // A cluster shown as U+FFFD because the table was full is not remembered as such.
      if (this.cells.size >= MEMO_LIMIT) this.cells.clear()
      if (!cells.startsWith(REPLACEMENT) || cluster === REPLACEMENT) this.cells.set(cluster, cells)
    }
    return cells
  }

  lookup(code: number): Placed | undefined {
    return code >= PLACEHOLDER_FIRST && code <= PLACEHOLDER_LAST ? this.placed[code - PLACEHOLDER_FIRST] : undefined
  }

  reset(): void {
    this.codes.clear()
    this.cells.clear()
    this.placed = []
  }
}

/** One grapheme cluster as blessed cells. */
const encodeCluster = (cluster: string, table: ClusterTable): string => {
  if (cluster === "\n") return cluster
  const shown = shownCluster(cluster)
  if (shown.width === 0) return ""
  if (shown.text.length === 1) {
    const code = shown.text.charCodeAt(0)
    if (shown.width === 1 && blessedNarrow(shown.text, code)) return shown.text
    if (shown.width === 2 && blessedDoubleWidth(shown.text, code)) return shown.text
  }
  const placeholder = table.placeholderFor(shown.text, shown.width)
  if (placeholder === null) return REPLACEMENT + " ".repeat(shown.width - 1)
  return placeholder + FILLER.repeat(shown.width - 1)
}

/** A blessed tag: `{bold}`, `{/grey-fg}`, `{open}`. Text between tags is encoded, tags pass. */
const TAG = /\{\/?[\w\-,;!#]*\}/g
const PLAIN_ASCII = /^[\x20-\x7e\n]*$/

/** Tagged text for blessed in which every unit is one cell (see the top of this file). */
export const encodeCells = (tagged: string, table: ClusterTable): string => {
  if (PLAIN_ASCII.test(tagged)) return tagged
  let out = ""
  let last = 0
  const text = (part: string) => {
    if (PLAIN_ASCII.test(part)) out += part
    else for (const cluster of graphemes(part)) out += cluster.length === 1 && cluster >= " " && cluster <= "~" ? cluster : table.encoded(cluster)
  }
  for (const match of tagged.matchAll(TAG)) {
    text(tagged.slice(last, match.index))
    out += match[0]
    last = match.index + match[0].length
  }
  text(tagged.slice(last))
  return out
}

type Cell = [number, string]
type Row = Cell[] & { dirty?: boolean }

interface DrawnScreen {
  lines: Row[]
  olines: Cell[][]
  draw(start: number, end: number): void
}

/** CUP is 1-based. */
const moveTo = (row: number, column: number): string => `\u001b[${row + 1};${column + 1}H`

/**
 * Rewrites the cells of one row for drawing and returns what to put back afterwards: clusters as
 * positioned writes (their cells always redrawn), half-covered clusters and stray fillers blank.
 */
const prepareRow = (y: number, line: Row, drawn: Cell[], table: ClusterTable, undo: Array<() => void>): void => {
  const set = (x: number, ch: string) => {
    const cell = line[x]!
    const before = cell[1]
    cell[1] = ch
    undo.push(() => {
      cell[1] = before
    })
  }
  // One pass over the row; a complete cluster is consumed at once.
  for (let x = 0; x < line.length; x++) {
    const ch = line[x]![1]
    if (ch.length !== 1) continue
    const code = ch.charCodeAt(0)
    if (code < 0x7f && code !== 0x03) continue
    const placed = table.lookup(code)
    if (placed !== undefined) {
      let whole = x + placed.width <= line.length
      for (let k = 1; whole && k < placed.width; k++) whole = line[x + k]![1] === FILLER
      if (!whole) {
        set(x, " ")
        continue
      }
      set(x, `${moveTo(y, x)}${" ".repeat(placed.width)}${moveTo(y, x)}${placed.text}${moveTo(y, x + placed.width)}`)
      drawn[x]![1] = "\u0000"
      for (let k = 1; k < placed.width; k++) {
        set(x + k, "")
        drawn[x + k]![1] = "\u0000"
      }
      x += placed.width - 1
    } else if (code === FILLER_CODE || code === 0x03) {
      set(x, " ")
    } else if (blessedWide.test(ch) && unicode.charWidth(code) === 2) {
      if (line[x + 1]?.[1] === BLESSED_WIDE_FILL) x += 1
      else set(x, " ")
    }
  }
}

export interface ScreenCells {
  readonly table: ClusterTable
  /** Clusters the screen's elements held right after the last start-over. */
  live: number
  /** Encodes one element's raw content and label again (after the table started over). */
  readonly elements: Set<() => void>
}

const installed = new WeakMap<Widgets.Screen, ScreenCells>()

/**
 * Hooks the screen's draw (see the top of this file) and, before each render, starts the table
 * over when it has grown past RESET_AT, encoding every cell-safe element again. Idempotent.
 */
export const installCellDrawing = (screen: Widgets.Screen): ScreenCells => {
  const existing = installed.get(screen)
  if (existing !== undefined) return existing
  const cells: ScreenCells = { table: new ClusterTable(), live: 0, elements: new Set() }
  installed.set(screen, cells)
  const target = screen as unknown as DrawnScreen
  const draw = target.draw.bind(screen)
  target.draw = (start: number, end: number) => {
    const undo: Array<() => void> = []
    for (let y = start; y <= end; y++) {
      const line = target.lines[y]
      const drawn = target.olines[y]
      if (line === undefined || drawn === undefined || line.dirty !== true) continue
      prepareRow(y, line, drawn, cells.table, undo)
    }
    try {
      draw(start, end)
    } finally {
      for (const step of undo) step()
    }
  }
  screen.on("prerender", () => {
    if (cells.table.size < RESET_AT || cells.table.size - cells.live < RESET_AFTER_NEW) return
    cells.table.reset()
    for (const encodeAgain of cells.elements) encodeAgain()
    cells.live = cells.table.size
  })
  return cells
}

/**
 * Routes an element's content and label through `encodeCells`, with its screen's table. The raw
 * text is kept so that the element can be encoded again when the table starts over.
 */
export const cellSafe = <E extends Widgets.BlessedElement>(element: E): E => {
  const { table, elements } = installCellDrawing(element.screen)
  let content = ""
  let label: string | null = null
  const setContent = element.setContent.bind(element)
  const setLabel = element.setLabel.bind(element)
  element.setContent = (raw: string) => {
    content = raw
    setContent(encodeCells(raw, table))
  }
  element.setLabel = (options: string | Widgets.LabelOptions) => {
    label = typeof options === "string" ? options : options.text
    setLabel(typeof options === "string" ? encodeCells(options, table) : { ...options, text: encodeCells(options.text, table) })
  }
  elements.add(() => {
    setContent(encodeCells(content, table))
    if (label !== null) setLabel(encodeCells(label, table))
  })
  return element
}

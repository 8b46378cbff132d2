/**
 * A small terminal for unit tests of what blessed writes: a grid of cells that understands the
 * sequences a blessed screen sends (cursor moves, erase, save/restore; colours and modes are
 * ignored) and places each grapheme cluster at the width the UI's model gives it, covering the
 * cells beyond its first. An unknown sequence, or text written past the right edge, fails the
 * test instead of being guessed at. tests/e2e/chat-unicode.tmux.test.ts checks the same against
 * tmux itself; this one runs without a terminal and in milliseconds.
 */
import { PassThrough, Writable } from "node:stream"
import { displayCluster } from "../../adapters/tui/unicode-width.ts"

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" })
/** A cell covered by the wide cluster to its left. */
const COVERED = ""

export class VirtualTerminal {
  private cells: string[][]
  private x = 0
  private y = 0
  private saved = { x: 0, y: 0 }
  /** The last column was just written: one more character would wrap to the next row. */
  private pendingWrap = false

  constructor(
    readonly columns: number,
    readonly rows: number,
  ) {
    this.cells = this.blank()
  }

  private blank(): string[][] {
    return Array.from({ length: this.rows }, () => Array.from({ length: this.columns }, () => " "))
  }

  /** The rows as text, each cluster once (as `capture-pane -p` shows them), trailing blanks cut. */
  screen(): ReadonlyArray<string> {
    return this.cells.map((row) => row.join("").trimEnd())
  }

  /** What is in each column: a cluster, " ", or "" for a column covered by a wide cluster. */
  columnsOf(row: number): ReadonlyArray<string> {
    return this.cells[row] ?? []
  }

  /** Blanks the whole cluster that occupies column `x` of the cursor's row (both halves of a wide one). */
  private erase(row: string[], x: number): void {
    let start = x
    while (start > 0 && row[start] === COVERED) start -= 1
    row[start] = " "
    for (let i = start + 1; i < this.columns && row[i] === COVERED; i++) row[i] = " "
  }

  private put(cluster: string): void {
    const width = displayCluster(cluster).width
    if (width === 0) {
      // A zero-width cluster joins the cell before the cursor, as terminals do.
      if (this.x > 0) this.cells[this.y]![this.x - 1] += cluster
      return
    }
    if (this.pendingWrap) throw new Error(`wrote ${JSON.stringify(cluster)} after the right edge of row ${this.y} (the terminal would wrap)`)
    if (this.x + width > this.columns) throw new Error(`wrote ${JSON.stringify(cluster)} past the right edge at row ${this.y}, column ${this.x}`)
    const row = this.cells[this.y]!
    for (let k = 0; k < width; k++) this.erase(row, this.x + k)
    row[this.x] = cluster
    for (let k = 1; k < width; k++) row[this.x + k] = COVERED
    if (this.x + width === this.columns) {
      this.x = this.columns - 1
      this.pendingWrap = true
    } else {
      this.x += width
    }
  }

  private text(part: string): void {
    for (const { segment } of segmenter.segment(part)) {
      if (segment === "\r") this.x = 0
      else if (segment === "\n") this.y = Math.min(this.rows - 1, this.y + 1)
      else if (segment === "\u0007" || segment === "\u000e" || segment === "\u000f") continue
      else if (/^[\u0000-\u001f]$/.test(segment)) throw new Error(`control character ${JSON.stringify(segment)} written as text`)
      else this.put(segment)
    }
  }

  private csi(params: string, final: string): void {
    if (final !== "m") this.pendingWrap = false
    const numbers = params.replace(/^[?>=]/, "").split(";").map((p) => (p === "" ? 0 : Number(p)))
    const n = (i: number, fallback: number) => (numbers[i] === undefined || numbers[i] === 0 ? fallback : numbers[i]!)
    const clampX = (x: number) => Math.max(0, Math.min(this.columns - 1, x))
    const clampY = (y: number) => Math.max(0, Math.min(this.rows - 1, y))
    switch (final) {
      case "H":
      case "f":
        this.y = clampY(n(0, 1) - 1)
        this.x = clampX(n(1, 1) - 1)
        return
      case "C":
        this.x = clampX(this.x + n(0, 1))
        return
      case "D":
        this.x = clampX(this.x - n(0, 1))
        return
      case "A":
        this.y = clampY(this.y - n(0, 1))
        return
      case "B":
        this.y = clampY(this.y + n(0, 1))
        return
      case "G":
        this.x = clampX(n(0, 1) - 1)
        return
      case "d":
        this.y = clampY(n(0, 1) - 1)
        return
      case "K": {
        const row = this.cells[this.y]!
        const mode = numbers[0] ?? 0
        const [from, to] = mode === 1 ? [0, this.x + 1] : mode === 2 ? [0, this.columns] : [this.x, this.columns]
        for (let x = from; x < to; x++) this.erase(row, x)
        return
      }
      case "J":
        if ((numbers[0] ?? 0) === 2) this.cells = this.blank()
        else throw new Error(`erase in display ${params} is not emulated`)
        return
      case "s":
        this.saved = { x: this.x, y: this.y }
        return
      case "u":
        this.x = this.saved.x
        this.y = this.saved.y
        return
      // Colours, modes, scroll region, window reports: nothing to place.
      case "m":
      case "h":
      case "l":
      case "r":
      case "t":
      case "q":
        return
      default:
        throw new Error(`CSI ${params}${final} is not emulated`)
    }
  }

  write(data: string): void {
    // OSC (titles), ESC 7/8, CSI, charset and keypad selections; everything else is text.
    const sequence = /\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b([78=>])|\u001b\[([0-9;?>=]*)([@-~])|\u001b[()*+][0-9A-Za-z]/g
    let last = 0
    for (const match of data.matchAll(sequence)) {
      this.text(data.slice(last, match.index))
      last = match.index + match[0].length
      if (match[1] === "7") this.saved = { x: this.x, y: this.y }
      else if (match[1] === "8") {
        this.x = this.saved.x
        this.y = this.saved.y
        this.pendingWrap = false
      } else if (match[3] !== undefined) this.csi(match[2] ?? "", match[3])
    }
    const rest = data.slice(last)
    if (rest.includes("\u001b")) throw new Error(`unknown escape sequence in ${JSON.stringify(rest.slice(rest.indexOf("\u001b"), rest.indexOf("\u001b") + 12))}`)
    this.text(rest)
  }

  /** Streams a blessed screen can be created with: whatever it writes lands in this terminal. */
  streams(): { readonly input: NodeJS.ReadableStream; readonly output: NodeJS.WritableStream } {
    const output = Object.assign(
      new Writable({
        write: (chunk: Buffer | string, _encoding, done) => {
          try {
            this.write(chunk.toString())
            done()
          } catch (error) {
            done(error as Error)
          }
        },
      }),
      { isTTY: true, columns: this.columns, rows: this.rows },
    )
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input })
    return { input, output }
  }
}

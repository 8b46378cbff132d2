/**
 * The message pane: a blessed box whose scroll position this class owns. The tagged lines are
 * wrapped here to the box's width by terminal columns (wrap.ts), again after a resize; we only
 * choose the first visible wrapped line. Following mode
 * (the default) sticks to the newest line; scrolling up leaves it until you come back down.
 */
import type { Widgets } from "blessed"
import { wrapTaggedLines } from "./wrap.ts"

/** blessed's internals we rely on: the wrapped lines and the first shown one. */
interface WrappedBox {
  childBase: number
  childOffset: number
  _clines?: { readonly length: number }
  parseContent(): void
}

/** Wrapped lines remembered between versions; past this the memory starts over. */
const MAX_REMEMBERED_LINES = 20_000

/** The index of the last start at or before `row` (starts ascending, the first 0). */
const lineAt = (starts: ReadonlyArray<number>, row: number): number => {
  let low = 0
  let high = starts.length - 1
  while (low < high) {
    const middle = (low + high + 1) >> 1
    if ((starts[middle] ?? 0) <= row) low = middle
    else high = middle - 1
  }
  return low
}

/**
 * Where the first visible row goes when the lines change while scrolled up. When the lines kept
 * at the start outnumber those kept at the end, the change was at the end (new messages, notes,
 * a re-wrap): the line at the top of the view stays at the top, so the view holds and what is
 * below grows (as in WeeChat and irssi). Otherwise (older pages prepended) null: the caller keeps
 * the distance from the end, which holds the view too.
 */
export const anchoredTop = (
  before: ReadonlyArray<string>,
  beforeStarts: ReadonlyArray<number>,
  top: number,
  after: ReadonlyArray<string>,
  afterStarts: ReadonlyArray<number>,
  afterRows: number,
): number | null => {
  const shorter = Math.min(before.length, after.length)
  let prefix = 0
  while (prefix < shorter && before[prefix] === after[prefix]) prefix++
  let suffix = 0
  while (suffix < shorter - prefix && before[before.length - 1 - suffix] === after[after.length - 1 - suffix]) suffix++
  if (prefix === 0 || prefix < suffix || after.length === 0) return null
  const index = Math.min(lineAt(beforeStarts, top), after.length - 1)
  const offset = top - (beforeStarts[index] ?? 0)
  const start = afterStarts[index] ?? 0
  const end = afterStarts[index + 1] ?? afterRows
  return start + Math.max(0, Math.min(offset, end - start - 1))
}

export class MessagePane {
  private following = true
  /** Wrapped lines above the view. */
  private top = 0
  private contentKey = ""
  /** The lines as built, before wrapping, and the width they were last wrapped to. */
  private lines: ReadonlyArray<string> = []
  private wrappedWidth = -1
  /** The first wrapped row of each line of `lines`. */
  private lineStarts: ReadonlyArray<number> = []
  /** Rows of each line at `wrappedWidth`: most lines are the same from one version to the next. */
  private readonly rowsOfLine = new Map<string, ReadonlyArray<string>>()

  constructor(readonly box: Widgets.BoxElement) {}

  private get wrapped(): WrappedBox {
    return this.box as unknown as WrappedBox
  }

  private get columns(): number {
    return Math.max(1, (this.box.width as number) - (this.box.iwidth as number))
  }

  /**
   * Sets the content wrapped to the current width. When scrolled up the view holds (see `anchoredTop`):
   * lines added at the end leave it where it is, lines added at the start (older pages) do not move it either.
   */
  private setLines(lines: ReadonlyArray<string>, keepView: boolean): void {
    const fromBottom = this.totalRows() - this.top
    const previous = this.lines
    const previousStarts = this.lineStarts
    this.lines = lines
    if (this.wrappedWidth !== this.columns || this.rowsOfLine.size > MAX_REMEMBERED_LINES) this.rowsOfLine.clear()
    this.wrappedWidth = this.columns
    const rows: string[] = []
    const starts: number[] = []
    for (const line of lines) {
      let wrapped = this.rowsOfLine.get(line)
      if (wrapped === undefined) {
        wrapped = wrapTaggedLines([line], this.wrappedWidth)
        this.rowsOfLine.set(line, wrapped)
      }
      starts.push(rows.length)
      rows.push(...wrapped)
    }
    this.lineStarts = starts
    this.box.setContent(rows.join("\n"))
    if (keepView && !this.following) {
      const anchored = anchoredTop(previous, previousStarts, this.top, lines, starts, rows.length)
      this.top = anchored ?? Math.max(0, this.totalRows() - fromBottom)
    }
  }

  private get visibleRows(): number {
    return Math.max(1, (this.box.height as number) - (this.box.iheight as number))
  }

  private totalRows(): number {
    this.wrapped.parseContent()
    return this.wrapped._clines?.length ?? 0
  }

  private maxTop(): number {
    return Math.max(0, this.totalRows() - this.visibleRows)
  }

  private apply(): void {
    const max = this.maxTop()
    if (this.following || this.top > max) this.top = max
    this.top = Math.max(0, this.top)
    this.wrapped.childBase = this.top
    this.wrapped.childOffset = 0
    if (this.top >= max) this.following = true
  }

  /**
   * Shows the lines `lines()` builds, called only when `key` (buffer and version) changed. When scrolled
   * up, the view holds: neither new lines at the end nor older lines paged in on top move it.
   * `resetScroll` (another buffer was opened) goes back to following the newest line.
   */
  show(key: string, lines: () => ReadonlyArray<string>, options: { readonly resetScroll?: boolean } = {}): void {
    if (options.resetScroll === true) {
      this.following = true
      this.top = 0
    }
    if (key !== this.contentKey) {
      // Prepending older lines must not move what the reader is looking at.
      this.setLines(lines(), options.resetScroll !== true)
      this.contentKey = key
    } else if (this.wrappedWidth !== this.columns) {
      this.setLines(this.lines, true)
    }
    this.apply()
  }

  /** Re-fits after a resize: the lines are wrapped again to the new width. */
  refit(): void {
    if (this.wrappedWidth !== this.columns) this.setLines(this.lines, true)
    this.apply()
  }

  scrollBy(rows: number): void {
    const max = this.maxTop()
    this.top = Math.min(max, Math.max(0, this.top + rows))
    this.following = this.top >= max
    this.apply()
  }

  pageUp(): void {
    this.scrollBy(-(this.visibleRows - 1))
  }

  pageDown(): void {
    this.scrollBy(this.visibleRows - 1)
  }

  toTop(): void {
    this.following = false
    this.top = 0
    this.apply()
  }

  /** Shows line `index` of those last shown a third of the way down the view (a /search hit). */
  revealLine(index: number): void {
    const start = this.lineStarts[Math.max(0, Math.min(index, this.lineStarts.length - 1))] ?? 0
    this.following = false
    this.top = Math.max(0, start - Math.floor(this.visibleRows / 3))
    this.apply()
  }

  toBottom(): void {
    this.following = true
    this.apply()
  }

  get atTop(): boolean {
    return this.top === 0
  }

  get isFollowing(): boolean {
    return this.following
  }

  /** Wrapped lines below the view (0 when following). */
  get rowsBelow(): number {
    return Math.max(0, this.totalRows() - this.top - this.visibleRows)
  }

  get height(): number {
    return this.visibleRows
  }
}

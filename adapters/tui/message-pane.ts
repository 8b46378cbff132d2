/**
 * The message pane: a blessed box whose scroll position this class owns. blessed wraps the tagged
 * lines (so width follows resizes); we only choose the first visible wrapped line. Following mode
 * (the default) sticks to the newest line; scrolling up leaves it until you come back down.
 */
import type { Widgets } from "blessed"

/** blessed's internals we rely on: the wrapped lines and the first shown one. */
interface WrappedBox {
  childBase: number
  childOffset: number
  _clines?: { readonly length: number }
  parseContent(): void
}

export class MessagePane {
  private following = true
  /** Wrapped lines above the view. */
  private top = 0
  private contentKey = ""

  constructor(readonly box: Widgets.BoxElement) {}

  private get wrapped(): WrappedBox {
    return this.box as unknown as WrappedBox
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
   * up, the view keeps its distance from the end, so older lines paged in on top do not move it.
   * `resetScroll` (another buffer was opened) goes back to following the newest line.
   */
  show(key: string, lines: () => ReadonlyArray<string>, options: { readonly resetScroll?: boolean } = {}): void {
    if (options.resetScroll === true) {
      this.following = true
      this.top = 0
    }
    if (key !== this.contentKey) {
      const fromBottom = this.totalRows() - this.top
      this.box.setContent(lines().join("\n"))
      this.contentKey = key
      // Prepending older lines must not move what the reader is looking at.
      if (!this.following && options.resetScroll !== true) this.top = Math.max(0, this.totalRows() - fromBottom)
    }
    this.apply()
  }

  /** Re-fits after a resize: blessed re-wraps at the next parse. */
  refit(): void {
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

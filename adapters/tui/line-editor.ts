/**
 * The input line's model: text, cursor, kill ring of one, and a bounded history. No blessed here,
 * so it is tested alone. Text is held as grapheme clusters (an emoji with a skin tone, a flag, a
 * letter with its accents is one step of the cursor and one Backspace) and may contain line
 * feeds: a multi-line message is one message (Ctrl-J or Alt-Enter, or a paste).
 *
 * It is UI state and nothing else touches it: connection events never clear it, so the unsent line
 * survives a reconnect. Each buffer has its own editor (drafts.ts): draft, cursor and history belong
 * to the conversation; the kill ring may be shared between them, so Ctrl-K here and Ctrl-Y there
 * moves text from one conversation to another.
 */
import { displayCluster, graphemes } from "./text-width.ts"

export const NEWLINE_MARK = "\u21b5"

export interface LineView {
  /** What to draw after the prompt, exactly as wide as allowed or narrower. */
  readonly text: string
  /** Column of the cursor within `text`. */
  readonly cursorColumn: number
}

/** What Ctrl-U, Ctrl-K and Ctrl-W cut and Ctrl-Y puts back; one may be shared by several editors. */
export interface KillRing {
  text: string
}

const isWordChar = (char: string | undefined): boolean => char !== undefined && /[\p{L}\p{N}_-]/u.test(char)

export class LineEditor {
  /** Grapheme clusters; the cursor is an index into them. */
  private chars: string[] = []
  private cursor = 0
  private readonly history: string[] = []
  /** -1: editing the draft; otherwise an index into history. */
  private historyIndex = -1
  private draft = ""
  /** Keys arrive as UTF-16 units: half of a surrogate pair waits here for the other half. */
  private highSurrogate = ""
  /** First column shown: the view scrolls horizontally to keep the cursor visible. */
  private scrollColumn = 0

  constructor(
    /** In UTF-16 units, like the domain's limit; refusing here keeps the typist informed. */
    readonly maxChars: number,
    readonly historyLimit: number,
    private readonly killRing: KillRing = { text: "" },
  ) {}

  get text(): string {
    return this.chars.join("")
  }

  get length(): number {
    return this.chars.length
  }

  get cursorIndex(): number {
    return this.cursor
  }

  /** Inserts at the cursor; false when the text would exceed `maxChars` (nothing is inserted then). */
  insert(text: string): boolean {
    let pending = this.highSurrogate + text
    this.highSurrogate = ""
    const last = pending.charCodeAt(pending.length - 1)
    if (last >= 0xd800 && last <= 0xdbff) {
      this.highSurrogate = pending.slice(-1)
      pending = pending.slice(0, -1)
    }
    if (pending.length === 0) return true
    // Counted in UTF-16 units, as the domain counts a message's length.
    if (this.text.length + pending.length > this.maxChars) return false
    const before = this.chars.slice(0, this.cursor).join("")
    this.regroup(before + pending + this.chars.slice(this.cursor).join(""), before.length + pending.length)
    this.historyIndex = -1
    return true
  }

  /**
   * Sets the text and puts the cursor at `offset` (UTF-16 units), or just past the cluster it falls
   * in: typing a combining accent or a skin tone joins the cluster before the cursor.
   */
  private regroup(text: string, offset: number): void {
    this.chars = [...graphemes(text)]
    let end = 0
    let index = 0
    while (index < this.chars.length && end < offset) end += this.chars[index++]!.length
    this.cursor = index
  }

  backspace(): void {
    if (this.cursor > 0) this.cut(this.cursor - 1, this.cursor)
  }

  deleteForward(): void {
    if (this.cursor < this.chars.length) this.cut(this.cursor, this.cursor + 1)
  }

  left(): void {
    this.cursor = Math.max(0, this.cursor - 1)
  }

  right(): void {
    this.cursor = Math.min(this.chars.length, this.cursor + 1)
  }

  home(): void {
    this.cursor = 0
  }

  end(): void {
    this.cursor = this.chars.length
  }

  private wordStartBefore(index: number): number {
    let i = index
    while (i > 0 && !isWordChar(this.chars[i - 1])) i -= 1
    while (i > 0 && isWordChar(this.chars[i - 1])) i -= 1
    return i
  }

  private wordEndAfter(index: number): number {
    let i = index
    while (i < this.chars.length && !isWordChar(this.chars[i])) i += 1
    while (i < this.chars.length && isWordChar(this.chars[i])) i += 1
    return i
  }

  wordLeft(): void {
    this.cursor = this.wordStartBefore(this.cursor)
  }

  wordRight(): void {
    this.cursor = this.wordEndAfter(this.cursor)
  }

  /** Removes clusters [start, end) and returns them; the cursor goes to `start`. */
  private cut(start: number, end: number): string {
    const before = this.chars.slice(0, start).join("")
    const removed = this.chars.slice(start, end).join("")
    // What is left is grouped again: the clusters on either side of the cut may join (two flag halves).
    this.regroup(before + this.chars.slice(end).join(""), before.length)
    return removed
  }

  /** Ctrl-W */
  deleteWordBack(): void {
    this.killRing.text = this.cut(this.wordStartBefore(this.cursor), this.cursor)
  }

  /** Ctrl-U */
  killToStart(): void {
    this.killRing.text = this.cut(0, this.cursor)
  }

  /** Ctrl-K */
  killToEnd(): void {
    this.killRing.text = this.cut(this.cursor, this.chars.length)
  }

  /** Ctrl-Y */
  yank(): boolean {
    return this.killRing.text.length === 0 ? true : this.insert(this.killRing.text)
  }

  /** Replaces the word before the cursor (for Tab completion). */
  replaceWordBeforeCursor(replacement: string): boolean {
    const start = this.wordBeforeCursorStart()
    const end = this.cursor
    const removed = this.cut(start, end)
    if (this.insert(replacement)) return true
    const before = this.chars.slice(0, start).join("")
    this.regroup(before + removed + this.chars.slice(start).join(""), before.length + removed.length)
    return false
  }

  /** The blank-delimited word ending at the cursor ("/jo", "user-12", "#te"). */
  wordBeforeCursor(): { readonly word: string; readonly atLineStart: boolean } {
    const start = this.wordBeforeCursorStart()
    return { word: this.chars.slice(start, this.cursor).join(""), atLineStart: this.chars.slice(0, start).every((c) => /\s/.test(c)) }
  }

  private wordBeforeCursorStart(): number {
    let i = this.cursor
    while (i > 0 && !/\s/.test(this.chars[i - 1] ?? " ")) i -= 1
    return i
  }

  /** Up: older history entry; the draft being typed is kept and comes back with Down. */
  historyPrevious(): void {
    if (this.history.length === 0) return
    if (this.historyIndex === -1) {
      this.draft = this.text
      this.historyIndex = this.history.length - 1
    } else if (this.historyIndex > 0) {
      this.historyIndex -= 1
    }
    this.setText(this.history[this.historyIndex] ?? "", false)
  }

  historyNext(): void {
    if (this.historyIndex === -1) return
    if (this.historyIndex < this.history.length - 1) {
      this.historyIndex += 1
      this.setText(this.history[this.historyIndex] ?? "", false)
    } else {
      this.historyIndex = -1
      this.setText(this.draft, false)
    }
  }

  setText(text: string, resetHistory = true): void {
    this.chars = [...graphemes(text.slice(0, this.maxChars))]
    this.cursor = this.chars.length
    if (resetHistory) this.historyIndex = -1
  }

  /** Empties the line and returns what it held; non-blank lines go to the history. */
  take(): string {
    const text = this.text
    this.chars = []
    this.cursor = 0
    this.historyIndex = -1
    this.scrollColumn = 0
    if (text.trim().length > 0 && this.history[this.history.length - 1] !== text) {
      this.history.push(text)
      if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit)
    }
    return text
  }

  /**
   * The visible slice for `width` columns, scrolled so the cursor stays inside with a little
   * context; line feeds are drawn as ↵.
   */
  view(width: number): LineView {
    const columns = Math.max(1, width)
    // Each cluster in the form it is drawn in, so that the drawn text splits into the same clusters.
    const drawn = this.chars.map((c) => (c === "\n" ? { text: NEWLINE_MARK, width: 1 } : displayCluster(c)))
    const shown = drawn.map((d) => d.text)
    const widths = drawn.map((d) => d.width)
    let cursorColumn = 0
    for (let i = 0; i < this.cursor; i++) cursorColumn += widths[i] ?? 0
    const margin = Math.min(8, Math.floor(columns / 4))
    if (cursorColumn < this.scrollColumn + margin) this.scrollColumn = Math.max(0, cursorColumn - margin)
    if (cursorColumn > this.scrollColumn + columns - 1) this.scrollColumn = cursorColumn - columns + 1
    let text = ""
    let column = 0
    let used = 0
    for (let i = 0; i < shown.length; i++) {
      const w = widths[i] ?? 0
      if (column >= this.scrollColumn) {
        if (used + w > columns) break
        text += shown[i]
        used += w
      }
      column += w
    }
    return { text, cursorColumn: Math.min(columns - 1, cursorColumn - this.scrollColumn) }
  }
}

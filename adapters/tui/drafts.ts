/**
 * The input line per buffer, as in WeeChat or irssi: each conversation keeps its own unsent line,
 * cursor and ↑/↓ history; switching buffers shows the line of the buffer switched to, and sending
 * empties only that one. The kill ring (Ctrl-K / Ctrl-Y) is shared, so text can be moved from one
 * conversation to another. No blessed here: tested alone.
 *
 * Bounded: at most `maxEditors` editors. Beyond that the least recently used one goes, an empty
 * one first (its history goes with it); the active buffer's is always the most recent. Drafts are
 * UI state only: connection events never touch them, so an unsent line survives a reconnect.
 *
 * Commands are never swallowed by a draft: a draft from an earlier visit (restored at start, or
 * left when switching away) is "restored" until a key is typed in it. If that first key is "/",
 * the draft is set aside and the line starts empty for the command; the draft comes back when the
 * command has run, or as soon as the line is emptied again (Backspace on the lone "/").
 */
import { LineEditor, type KillRing } from "./line-editor.ts"

/** Editors kept at once (buffers are not bounded by anything this small: most never get typed in). */
export const MAX_DRAFT_EDITORS = 200
/** Lines remembered for ↑/↓, per buffer. */
export const DRAFT_HISTORY_LIMIT = 100
/** Drafts written to ui-state.json at most, and the characters kept of each. */
export const MAX_SAVED_DRAFTS = 50
export const MAX_SAVED_DRAFT_CHARS = 4_000

export class Drafts {
  /** Map order is recency: the last entry was used last. */
  private readonly editors = new Map<string, LineEditor>()
  private readonly killRing: KillRing = { text: "" }
  /** Buffers whose line holds a draft from an earlier visit that no key has touched on this one. */
  private readonly restored = new Set<string>()
  /** Drafts set aside while a command is typed in their place; at most one per editor. */
  private readonly aside = new Map<string, string>()

  constructor(
    readonly maxChars: number,
    readonly historyLimit: number = DRAFT_HISTORY_LIMIT,
    readonly maxEditors: number = MAX_DRAFT_EDITORS,
  ) {}

  /** The editor of buffer `key` (created empty on first use); it becomes the most recently used. */
  editorFor(key: string): LineEditor {
    let editor = this.editors.get(key)
    if (editor === undefined) {
      editor = new LineEditor(this.maxChars, this.historyLimit, this.killRing)
    } else {
      this.editors.delete(key)
    }
    this.editors.set(key, editor)
    this.evict(key)
    return editor
  }

  /** Buffer `key` is shown (again): a draft in it was typed earlier, so a first "/" starts a command over it. */
  shown(key: string): void {
    if (this.draftOf(key).trim().length > 0) this.restored.add(key)
    else this.restored.delete(key)
  }

  /**
   * A key is typed in buffer `key`. When it is the first one since the buffer was shown and it is
   * "/", the draft is set aside (true): the caller then inserts the "/" into the empty line.
   */
  keyTyped(key: string, text: string | null): boolean {
    const wasRestored = this.restored.delete(key)
    if (!wasRestored || text !== "/" || this.aside.has(key)) return false
    const editor = this.editors.get(key)
    if (editor === undefined || editor.text.trim().length === 0) return false
    this.aside.set(key, editor.text)
    editor.setText("")
    return true
  }

  /** The draft set aside in buffer `key` while a command is typed, or null. */
  asideOf(key: string): string | null {
    return this.aside.get(key) ?? null
  }

  /**
   * The command was run (or the line emptied): the draft set aside comes back, as a restored draft
   * again (another "/" first runs another command). Nothing happens while the line holds text.
   */
  bringBack(key: string): void {
    const text = this.aside.get(key)
    const editor = this.editors.get(key)
    if (text === undefined || editor === undefined || editor.length > 0) return
    this.aside.delete(key)
    editor.setText(text)
    this.restored.add(key)
  }

  /** The unsent text of buffer `key` ("" when none); does not create an editor. */
  draftOf(key: string): string {
    return this.editors.get(key)?.text ?? ""
  }

  get size(): number {
    return this.editors.size
  }

  /**
   * The non-blank drafts to remember between runs, most recently used first, at most
   * MAX_SAVED_DRAFTS of them, each cut to MAX_SAVED_DRAFT_CHARS (UTF-16 units, not splitting a pair).
   */
  saved(): Record<string, string> {
    const entries: Array<[string, string]> = []
    for (const [key, editor] of [...this.editors].reverse()) {
      if (entries.length >= MAX_SAVED_DRAFTS) break
      // A command half typed over a draft is not kept: the draft is.
      const text = this.aside.get(key) ?? editor.text
      if (text.trim().length === 0) continue
      entries.push([key, cutDraft(text)])
    }
    return Object.fromEntries(entries)
  }

  /** Puts saved drafts back (at start); a buffer already typed in keeps what it has. */
  restore(drafts: Readonly<Record<string, string>>): void {
    const entries = Object.entries(drafts).slice(0, MAX_SAVED_DRAFTS).reverse()
    for (const [key, text] of entries) {
      if (this.editors.has(key) || text.length === 0) continue
      const editor = new LineEditor(this.maxChars, this.historyLimit, this.killRing)
      editor.setText(cutDraft(text))
      // Oldest first, so the most recent saved draft ends up most recently used.
      this.editors.set(key, editor)
    }
    const newest = [...this.editors.keys()].pop()
    if (newest !== undefined) this.evict(newest)
  }

  private evict(keep: string): void {
    // Each pass removes one editor: at most size - maxEditors passes.
    while (this.editors.size > this.maxEditors) {
      let victim: string | undefined
      for (const [key, editor] of this.editors) {
        if (key === keep) continue
        if (editor.length === 0) {
          victim = key
          break
        }
        victim ??= key
      }
      if (victim === undefined) return
      this.editors.delete(victim)
      this.aside.delete(victim)
      this.restored.delete(victim)
    }
  }
}

/** At most MAX_SAVED_DRAFT_CHARS UTF-16 units, without leaving half of a surrogate pair. */
export const cutDraft = (text: string): string => {
  if (text.length <= MAX_SAVED_DRAFT_CHARS) return text
  const cut = text.slice(0, MAX_SAVED_DRAFT_CHARS)
  const last = cut.charCodeAt(cut.length - 1)
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut
}

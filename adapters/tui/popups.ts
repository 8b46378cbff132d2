/**
 * Modal popups over the chat: a list (the menu, users, groups, requests, help), a yes/no question
 * (an incoming request) and a one-line prompt with suggestions (group name, user id). Each is a
 * small state machine over keys; the controller draws the top one and routes keys to it first.
 */
import type { KeyEvent } from "./keymap.ts"
import { LineEditor } from "./line-editor.ts"
import { seg, styledLine, type Segment } from "./styled.ts"

export type PopupKeyResult = "handled" | "close" | "unhandled"

export interface PopupFrame {
  readonly title: string
  readonly lines: ReadonlyArray<string>
  readonly footer: string
  /** Where the text cursor goes, relative to the popup's inner area; null hides it. */
  readonly cursor: { readonly row: number; readonly column: number } | null
}

export interface Popup {
  /** Fits itself into `width` × `height` inner cells. */
  frame(width: number, height: number): PopupFrame
  handleKey(ch: string | undefined, key: KeyEvent | undefined): PopupKeyResult
  /** Text pasted while this popup is open. */
  paste?(text: string): void
}

export interface ListItem {
  readonly segments: ReadonlyArray<Segment>
  /** Enter (or the hotkey) closes the list and runs this. Items without it are information. */
  readonly run?: () => void
  readonly hotkey?: string
}

const keyName = (ch: string | undefined, key: KeyEvent | undefined): string => key?.full ?? ch ?? ""

/** The visible window of `count` rows that keeps `selected` inside `rows` rows. */
const windowStart = (selected: number, count: number, rows: number, previous: number): number => {
  if (count <= rows) return 0
  let start = Math.min(previous, count - rows)
  if (selected < start) start = selected
  if (selected >= start + rows) start = selected - rows + 1
  return Math.max(0, start)
}

export class ListPopup implements Popup {
  private selected: number
  private top = 0
  /** Only information (help, search results): the keys scroll the view, no hidden cursor moves first. */
  private readonly readOnly: boolean
  /** Rows shown at the last frame: how far a read-only list can scroll. */
  private rows = 1

  constructor(
    private readonly title: string,
    private readonly items: ReadonlyArray<ListItem>,
    private readonly footer = "↑↓ select · Enter open · Esc close",
  ) {
    const firstActionable = items.findIndex((item) => item.run !== undefined)
    this.selected = Math.max(0, firstActionable)
    this.readOnly = firstActionable < 0
  }

  frame(width: number, height: number): PopupFrame {
    const rows = Math.max(1, height)
    this.rows = rows
    this.top = this.readOnly ? Math.min(this.top, Math.max(0, this.items.length - rows)) : windowStart(this.selected, this.items.length, rows, this.top)
    const lines = this.items.slice(this.top, this.top + rows).map((item, offset) => {
      const index = this.top + offset
      const isSelected = index === this.selected && item.run !== undefined
      const marker = seg(isSelected ? "▶ " : "  ", { fg: "yellow" })
      const segments = isSelected ? item.segments.map((s) => ({ ...s, inverse: true })) : item.segments
      return styledLine([marker, ...segments], width)
    })
    if (this.items.length === 0) lines.push(styledLine([seg("  (nothing to show)", { fg: "grey" })], width))
    const scrollHint = this.items.length > rows ? ` · ${this.top + 1}-${Math.min(this.items.length, this.top + rows)} of ${this.items.length}` : ""
    return { title: this.title, lines, footer: this.footer + scrollHint, cursor: null }
  }

  private move(by: number): void {
    if (this.items.length === 0) return
    if (this.readOnly) {
      this.top = Math.min(Math.max(0, this.items.length - this.rows), Math.max(0, this.top + by))
      return
    }
    let next = Math.min(this.items.length - 1, Math.max(0, this.selected + by))
    // Skip information-only rows in the direction of travel, when there is an actionable one.
    const step = by >= 0 ? 1 : -1
    let probe = next
    while (probe >= 0 && probe < this.items.length && this.items[probe]?.run === undefined) probe += step
    if (probe >= 0 && probe < this.items.length) next = probe
    this.selected = next
  }

  handleKey(ch: string | undefined, key: KeyEvent | undefined): PopupKeyResult {
    const name = keyName(ch, key)
    switch (name) {
      case "escape":
      case "q":
      case "C-c":
        return "close"
      case "up":
      case "k":
        this.move(-1)
        return "handled"
      case "down":
      case "j":
      case "tab":
        this.move(1)
        return "handled"
      case "pageup":
        this.move(-10)
        return "handled"
      case "pagedown":
        this.move(10)
        return "handled"
      case "home":
        this.move(-this.items.length)
        return "handled"
      case "end":
        this.move(this.items.length)
        return "handled"
      case "enter": {
        const item = this.items[this.selected]
        if (item?.run === undefined) return "close"
        item.run()
        return "close"
      }
      default: {
        const hot = this.items.find((item) => item.hotkey !== undefined && (item.hotkey === name || item.hotkey === ch))
        if (hot?.run !== undefined) {
          hot.run()
          return "close"
        }
        return "handled"
      }
    }
  }
}

/**
 * An incoming request: y accepts, n refuses, Esc leaves it pending (it stays in /requests).
 * It may pop up in the middle of typing, so for `armAfterMs` its keys are not answers: they go on
 * to the input line ("unhandled"), and a "yes" being typed cannot accept a stranger's request.
 */
export class QuestionPopup implements Popup {
  private readonly armedAt: number

  constructor(
    private readonly title: string,
    private readonly question: ReadonlyArray<ReadonlyArray<Segment>>,
    private readonly answers: { readonly yes: () => void; readonly no: () => void; readonly later: () => void },
    private readonly now: () => number,
    armAfterMs: number,
    /** What the keys do, once armed; a request's answers by default. */
    private readonly footer = "[y] accept · [n] refuse · [Esc] later (stays in F6 requests)",
  ) {
    this.armedAt = now() + armAfterMs
  }

  get armed(): boolean {
    return this.now() >= this.armedAt
  }

  /** When the keys start to count (the controller redraws then). */
  get armsAt(): number {
    return this.armedAt
  }

  frame(width: number): PopupFrame {
    return {
      title: this.title,
      lines: [styledLine([], width), ...this.question.map((segments) => styledLine([seg("  "), ...segments], width)), styledLine([], width)],
      footer: this.armed ? this.footer : "(keys answer in a moment)",
      cursor: null,
    }
  }

  handleKey(ch: string | undefined, key: KeyEvent | undefined): PopupKeyResult {
    if (!this.armed) return "unhandled"
    const name = keyName(ch, key)
    if (name === "y" || name === "S-y") {
      this.answers.yes()
      return "close"
    }
    if (name === "n" || name === "S-n") {
      this.answers.no()
      return "close"
    }
    if (name === "escape") {
      this.answers.later()
      return "close"
    }
    return "handled"
  }
}

export interface Suggestion {
  readonly value: string
  readonly segments: ReadonlyArray<Segment>
}

/** A one-line question with suggestions that narrow as you type; Enter takes the highlighted one or the text. */
export class PromptPopup implements Popup {
  private readonly editor: LineEditor
  private selected = -1
  private top = 0

  constructor(
    private readonly title: string,
    private readonly question: string,
    private readonly suggestions: ReadonlyArray<Suggestion>,
    private readonly onSubmit: (value: string) => void,
    maxChars: number,
  ) {
    this.editor = new LineEditor(maxChars, 0)
  }

  private matching(): ReadonlyArray<Suggestion> {
    const typed = this.editor.text.trim().toLowerCase().replace(/^[#@]/, "")
    return typed.length === 0 ? this.suggestions : this.suggestions.filter((s) => s.value.toLowerCase().includes(typed))
  }

  frame(width: number, height: number): PopupFrame {
    const prompt = `${this.question} `
    const view = this.editor.view(Math.max(4, width - prompt.length - 1))
    const lines = [styledLine([seg(prompt, { bold: true }), seg(view.text)], width)]
    const matching = this.matching()
    if (this.selected >= matching.length) this.selected = matching.length - 1
    const rows = Math.max(0, height - 2)
    if (this.suggestions.length > 0) {
      lines.push(styledLine([seg(matching.length === 0 ? "  no match: Enter uses what you typed" : "  suggestions (↑↓):", { fg: "grey" })], width))
      this.top = windowStart(Math.max(0, this.selected), matching.length, rows, this.top)
      for (const [offset, suggestion] of matching.slice(this.top, this.top + rows).entries()) {
        const chosen = this.top + offset === this.selected
        lines.push(styledLine([seg(chosen ? "▶ " : "  ", { fg: "yellow" }), ...suggestion.segments.map((s) => (chosen ? { ...s, inverse: true } : s))], width))
      }
    }
    return { title: this.title, lines, footer: "Enter confirm · Esc cancel", cursor: { row: 0, column: prompt.length + view.cursorColumn } }
  }

  paste(text: string): void {
    this.editor.insert(text.replace(/\s+/g, " ").trim())
  }

  handleKey(ch: string | undefined, key: KeyEvent | undefined): PopupKeyResult {
    const name = keyName(ch, key)
    const matching = this.matching()
    switch (name) {
      case "escape":
      case "C-c":
        return "close"
      case "enter": {
        const chosen = this.selected >= 0 ? matching[this.selected] : undefined
        const value = chosen?.value ?? this.editor.text.trim()
        if (value.length === 0) return "handled"
        this.onSubmit(value)
        return "close"
      }
      case "up":
        this.selected = Math.max(-1, this.selected - 1)
        return "handled"
      case "down":
      case "tab":
        this.selected = Math.min(matching.length - 1, this.selected + 1)
        return "handled"
      case "backspace":
        this.editor.backspace()
        this.selected = -1
        return "handled"
      case "left":
        this.editor.left()
        return "handled"
      case "right":
        this.editor.right()
        return "handled"
      case "home":
      case "C-a":
        this.editor.home()
        return "handled"
      case "end":
      case "C-e":
        this.editor.end()
        return "handled"
      case "C-u":
        this.editor.killToStart()
        this.selected = -1
        return "handled"
      case "C-w":
        this.editor.deleteWordBack()
        this.selected = -1
        return "handled"
      default:
        if (ch !== undefined && ch.length === 1 && ch >= " " && ch !== "\u007f" && key?.ctrl !== true && key?.meta !== true) {
          this.editor.insert(ch)
          this.selected = -1
          return "handled"
        }
        return "handled"
    }
  }
}

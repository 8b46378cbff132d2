/**
 * Keys and pastes: the top popup sees a key first; otherwise it becomes an intent (keymap.ts) that
 * edits the active buffer's line, switches buffers, scrolls, opens the menu or sends the line.
 * Bracketed pastes are read from the raw input, so a pasted line break does not send the paste.
 */
import { StringDecoder } from "node:string_decoder"
import type { CommandRunner } from "./command-runner.ts"
import { completeWord } from "./commands.ts"
import { intentOf, type EditOperation, type KeyEvent, type ScrollAmount, type UiIntent } from "./keymap.ts"
import type { PopupScreens } from "./popup-screens.ts"
import type { RequestFlow } from "./request-flow.ts"
import { cleanPastedText } from "./sanitize.ts"
import { MAX_LINE_CHARS, MAX_MESSAGE_PARTS } from "./split-message.ts"
import type { TuiHost } from "./tui-host.ts"

const WHEEL_ROWS = 3
const PASTE_START = "\u001b[200~"
const PASTE_END = "\u001b[201~"
/** Read of one paste at most; a longer one is refused whole (the typist told), not cut. */
const MAX_PASTE_CHARS = MAX_LINE_CHARS + 1
const TOO_LONG = `a line holds at most ${MAX_LINE_CHARS} characters (sent as up to ${MAX_MESSAGE_PARTS} messages)`

export interface InputParts {
  readonly commands: CommandRunner
  readonly screens: PopupScreens
  readonly requests: RequestFlow
  /** Sees each key before the UI does (when no popup is open); true means it was handled there. */
  readonly interceptKey?: ((ch: string | undefined, key: KeyEvent | undefined) => boolean) | undefined
  readonly redraw: () => void
}

export class InputController {
  private readonly decoder = new StringDecoder("utf8")
  private pasting = false
  private pasted = ""
  private swallowKeys = false

  constructor(private readonly host: TuiHost, private readonly parts: InputParts) {}

  onRawInput(data: Buffer | string): void {
    const text = typeof data === "string" ? data : this.decoder.write(data)
    if (text === "\u001b\r" || text === "\u001b\n") {
      this.dispatch({ _tag: "newline" })
      return
    }
    if (!this.pasting && !text.includes(PASTE_START)) return
    // This chunk is handled here; blessed's key events for it (emitted right after) are dropped.
    this.swallowKeys = true
    queueMicrotask(() => {
      this.swallowKeys = false
    })
    let rest = text
    // Each pass consumes a marker or the rest of the chunk: at most chunk-length passes.
    for (let pass = 0; pass <= text.length && rest.length > 0; pass++) {
      if (!this.pasting) {
        const start = rest.indexOf(PASTE_START)
        if (start < 0) {
          this.insertText(cleanPastedText(rest))
          break
        }
        this.insertText(cleanPastedText(rest.slice(0, start)))
        this.pasting = true
        this.pasted = ""
        rest = rest.slice(start + PASTE_START.length)
        continue
      }
      const end = rest.indexOf(PASTE_END)
      const piece = end < 0 ? rest : rest.slice(0, end)
      // Bounded: past what a line may hold the rest is not kept (the paste is refused below).
      if (this.pasted.length < MAX_PASTE_CHARS) this.pasted += piece.slice(0, MAX_PASTE_CHARS - this.pasted.length)
      if (end < 0) break
      this.pasting = false
      this.finishPaste()
      rest = rest.slice(end + PASTE_END.length)
    }
    this.host.requestRender()
  }

  private finishPaste(): void {
    this.keyTyped(null)
    const text = cleanPastedText(this.pasted)
    this.pasted = ""
    const top = this.host.popups[this.host.popups.length - 1]
    if (top?.paste !== undefined) return top.paste(text)
    if (!this.insertText(text)) this.host.hint = `paste not inserted: ${TOO_LONG}`
  }

  private insertText(text: string): boolean {
    if (text.length === 0) return true
    const fits = this.host.editor.insert(text)
    if (!fits) this.host.hint = TOO_LONG
    return fits
  }

  onKey(ch: string | undefined, key: KeyEvent | undefined): void {
    if (this.swallowKeys) return
    const { host } = this
    const top = host.popups[host.popups.length - 1]
    if (top !== undefined) {
      const intent = intentOf(ch, key)
      if (intent._tag === "quit" && key?.full === "C-q") return host.quit()
      // Ctrl-L redraws whatever is open.
      if (intent._tag === "redraw") return this.dispatch(intent)
      if (key?.full === "return") return
      const result = top.handleKey(ch, key)
      if (result === "unhandled") {
        this.dispatch(intentOf(ch, key))
        return
      }
      if (result === "close") {
        const index = host.popups.indexOf(top)
        if (index >= 0) host.popups.splice(index, 1)
        this.parts.requests.forget(top)
        if (host.popups.length === 0) this.parts.requests.offerNextRequest()
      }
      host.requestRender()
      return
    }
    host.hint = null
    if (this.parts.interceptKey?.(ch, key) === true) return host.requestRender()
    this.dispatch(intentOf(ch, key))
  }

  private dispatch(intent: UiIntent): void {
    const { host } = this
    if (intent._tag === "insert" || intent._tag === "newline" || intent._tag === "edit" || intent._tag === "complete") this.keyTyped(intent._tag === "insert" ? intent.text : null)
    switch (intent._tag) {
      case "ignore":
        return
      case "submit":
        this.parts.commands.submit()
        break
      case "newline":
        this.insertText("\n")
        break
      case "insert":
        this.insertText(intent.text)
        break
      case "edit":
        this.edit(intent.operation)
        break
      case "complete":
        this.complete()
        break
      case "menu":
        this.parts.screens.showMenu()
        break
      case "menuItem":
        this.parts.screens.runMenuItem(intent.item)
        break
      case "nextBuffer":
        this.cycle(1)
        break
      case "previousBuffer":
        this.cycle(-1)
        break
      case "nextActivity":
        this.nextActivity()
        break
      case "jumpToBuffer": {
        const key = host.order[intent.number - 1]
        if (key !== undefined) host.activate(key)
        break
      }
      case "scroll":
        this.scroll(intent.amount)
        break
      case "redraw":
        this.parts.redraw()
        break
      case "quit":
        host.quit()
        return
    }
    // Backspace over the lone "/" of a command typed over a draft: the draft comes back.
    host.drafts.bringBack(host.activeKey)
    host.requestRender()
  }

  /** The first key in a buffer showing an earlier draft: a "/" sets the draft aside for a command (drafts.ts). */
  private keyTyped(text: string | null): void {
    const { host } = this
    if (host.drafts.keyTyped(host.activeKey, text)) host.hint = "the draft is set aside for this command: it comes back after Enter (or Backspace over the /)"
  }

  private edit(operation: EditOperation): void {
    const editor = this.host.editor
    switch (operation) {
      case "backspace":
        return editor.backspace()
      case "delete":
        return editor.deleteForward()
      case "left":
        return editor.left()
      case "right":
        return editor.right()
      case "home":
        return editor.home()
      case "end":
        return editor.end()
      case "wordLeft":
        return editor.wordLeft()
      case "wordRight":
        return editor.wordRight()
      case "deleteWordBack":
        return editor.deleteWordBack()
      case "killToStart":
        return editor.killToStart()
      case "killToEnd":
        return editor.killToEnd()
      case "yank":
        if (!editor.yank()) this.host.hint = TOO_LONG
        return
      case "historyPrevious":
        return editor.historyPrevious()
      case "historyNext":
        return editor.historyNext()
    }
  }

  private complete(): void {
    const { host } = this
    const { word, atLineStart } = host.editor.wordBeforeCursor()
    const candidates = [
      ...host.snapshot.users.map((u) => u.user as string),
      ...host.snapshot.groups.map((g) => `#${g.name}`),
      ...(atLineStart ? [] : ["status"]),
    ]
    const matches = completeWord(word, atLineStart, candidates)
    if (matches.length === 0) {
      host.hint = "no completion"
      return
    }
    if (matches.length === 1) {
      host.editor.replaceWordBeforeCursor(`${matches[0]} `)
      return
    }
    // Several: complete the common prefix and list the choices.
    let prefix = matches[0] ?? ""
    for (const match of matches) while (!match.startsWith(prefix)) prefix = prefix.slice(0, -1)
    if (prefix.length > word.length) host.editor.replaceWordBeforeCursor(prefix)
    host.hint = matches.slice(0, 12).join("  ") + (matches.length > 12 ? `  … ${matches.length - 12} more` : "")
  }

  private cycle(step: number): void {
    const { order, activeKey } = this.host
    const index = order.indexOf(activeKey)
    const next = order[(index + step + order.length) % order.length]
    if (next !== undefined) this.host.activate(next)
  }

  /** The next buffer (after this one, wrapping) with unread messages or a waiting request. */
  private nextActivity(): void {
    const { host } = this
    const start = host.order.indexOf(host.activeKey)
    for (let offset = 1; offset <= host.order.length; offset++) {
      const key = host.order[(start + offset) % host.order.length]
      const buffer = key === undefined ? undefined : host.buffer(key)
      if (buffer === undefined || key === host.activeKey) continue
      if (host.unreadOf(buffer) > 0 || host.requestsOfBuffer(buffer).length > 0) return host.activate(buffer.key)
    }
    const waiting = host.pendingRequests()[0]
    if (waiting !== undefined) return this.parts.requests.askRequest(waiting)
    host.hint = "no activity elsewhere"
  }

  scroll(amount: ScrollAmount | "wheelUp" | "wheelDown"): void {
    const { host } = this
    const pane = host.layout.pane
    const buffer = host.buffer(host.activeKey)
    const wasAtTop = pane.atTop
    switch (amount) {
      case "pageUp":
        pane.pageUp()
        break
      case "pageDown":
        pane.pageDown()
        break
      case "lineUp":
      case "wheelUp":
        pane.scrollBy(-WHEEL_ROWS)
        break
      case "lineDown":
      case "wheelDown":
        pane.scrollBy(WHEEL_ROWS)
        break
      case "top":
        pane.toTop()
        break
      case "bottom":
        pane.toBottom()
        break
    }
    // Reaching the top (or pushing against it) pages older messages in.
    if (buffer !== undefined && (pane.atTop || wasAtTop) && (amount === "pageUp" || amount === "wheelUp" || amount === "lineUp" || amount === "top")) void host.loadOlder(buffer)
    host.requestRender()
  }
}

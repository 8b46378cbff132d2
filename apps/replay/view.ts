/**
 * `replay view LOG`: the real chat screen (adapters/tui: the same buffers, side list, timeline and
 * popups as `npm start`), read-only, on the state at one record of the log; keys step through the
 * log. The screen talks to a ReadOnlyChatPort (view-model.ts) instead of the chat service.
 *
 * Stepping forward tells the screen that the state changed, so it writes its usual notes ("user-2
 * is online", "accepted: conversation open…") as the chat did live; any other move (back, a jump
 * far ahead) rebuilds the screen on the new state.
 */
import type { Widgets } from "blessed"
import type { LogRecord } from "../../domain/events.ts"
import { ChatTui } from "../../adapters/tui/chat-tui.ts"
import type { KeyEvent } from "../../adapters/tui/keymap.ts"
import { createLayout, createScreen, type Layout } from "../../adapters/tui/layout.ts"
import type { UiState, UiStateStore } from "../../adapters/tui/ui-state-store.ts"
import { EXIT_OK, EXIT_USAGE, eachRecord, located, type Output } from "./commands.ts"
import { describeEvent, isoTime, terminalLine } from "./describe.ts"
import type { Bound } from "./filter.ts"
import { parseBound } from "./filter.ts"
import { MAX_VIEW_RECORDS, ReadOnlyChatPort, ReplaySession } from "./view-model.ts"

/** What the keys do, for the status buffer and `?`. */
export const VIEW_KEYS = "n/→ next record · p/← previous · m/M next/previous message · </> first/last · g jump to seq or time · / search · q quit · Ctrl-N/P, F1-F8, PgUp as in the chat"
/** Characters typed into the jump and search prompts. */
const MAX_PROMPT_CHARS = 64

/** The screen events ChatTui.start listens to: removed again when the screen is rebuilt. */
const SCREEN_EVENTS = ["keypress", "resize", "render"] as const

type Prompt = { readonly kind: "jump" | "search"; text: string }

class Viewer {
  private readonly screen: Widgets.Screen
  private readonly port: ReadOnlyChatPort
  private layout: Layout | null = null
  private tui: ChatTui | null = null
  private added: Array<{ readonly target: NodeJS.EventEmitter; readonly event: string; readonly listener: (...args: Array<unknown>) => void }> = []
  private lastBuffer: string | null = null
  private prompt: Prompt | null = null
  private lastSearch = ""
  private message: string | null = null
  private finish: ((code: number) => void) | null = null

  constructor(private readonly session: ReplaySession, private readonly file: string) {
    this.port = new ReadOnlyChatPort(session)
    // The screen caught up with a step: the status bar's record line follows, once that refresh is drawn.
    this.port.onNewSnapshot = () => setImmediate(() => this.tui?.showHint(this.hint()))
    this.screen = createScreen({ input: process.stdin, output: process.stdout, title: `mqtt-chat replay ${session.owner}` })
  }

  run(): Promise<number> {
    return new Promise((resolve) => {
      this.finish = resolve
      for (const signal of ["SIGTERM", "SIGHUP", "SIGINT"] as const) process.once(signal, () => this.quit())
      this.build()
    })
  }

  /** Unread as the domain view counts it: messages received since my last message there. */
  private store(): UiStateStore {
    const fold = this.session.fold
    const readCounts: Record<string, number> = {}
    for (const [topic, summary] of Object.entries(fold.state.topics)) readCounts[topic] = Math.max(0, summary.messages - (fold.unread.get(topic) ?? 0))
    return {
      load: (): UiState => ({ readCounts, lastBuffer: this.lastBuffer, drafts: {} }),
      save: (state) => {
        this.lastBuffer = state.lastBuffer
      },
    }
  }

  /** The record the screen shows (a step forward reaches the screen at its next refresh). */
  private shownRecord(): LogRecord | undefined {
    return this.session.records[this.port.shownPosition - 1]
  }

  /** Where the view is, in the status bar (the chat shows its broker there). */
  private where(): string {
    const record = this.shownRecord()
    const last = this.session.records.at(-1)?.seq ?? 0
    return record === undefined ? `replay: before the first record of ${last}` : `replay seq ${record.seq}/${last} ${isoTime(record.at).slice(0, 19).replace("T", " ")}`
  }

  private hint(): string {
    if (this.prompt !== null) return `${this.prompt.kind === "jump" ? "jump to seq or time (2026-11-25T17:51)" : "search the log for"}: ${this.prompt.text}▏ (Enter · Esc)`
    if (this.message !== null) return this.message
    const record = this.shownRecord()
    return record === undefined ? VIEW_KEYS : terminalLine(`${record.event._tag} ${describeEvent(record.event)}`).slice(0, 200)
  }

  private build(): void {
    const layout = createLayout(this.screen)
    const before = new Map(SCREEN_EVENTS.map((event) => [event, new Set(this.screen.listeners(event))]))
    const programBefore = new Set(this.screen.program.listeners("data"))
    const tui = new ChatTui({
      port: this.port,
      layout,
      brokerLabel: () => this.where(),
      uiState: this.store(),
      startupNotes: [
        { text: terminalLine(`Replay of ${this.file} (${this.session.owner}), read-only: the chat screen as it was at each record. Nothing is sent.`), level: "info" },
        { text: VIEW_KEYS, level: "info" },
      ],
      diagnostics: () => {},
      requestQuit: () => this.quit(),
      now: () => this.session.record?.at ?? 0,
      interceptKey: (ch, key) => this.onKey(ch, key),
      askRequests: false,
    })
    tui.start()
    this.added = [
      ...SCREEN_EVENTS.flatMap((event) => this.screen.listeners(event).filter((l) => !before.get(event)!.has(l)).map((listener) => ({ target: this.screen as NodeJS.EventEmitter, event, listener: listener as (...args: Array<unknown>) => void }))),
      ...this.screen.program.listeners("data").filter((l) => !programBefore.has(l)).map((listener) => ({ target: this.screen.program as unknown as NodeJS.EventEmitter, event: "data", listener: listener as (...args: Array<unknown>) => void })),
    ]
    this.layout = layout
    this.tui = tui
    tui.showHint(this.hint())
  }

  private teardown(): void {
    this.tui?.close()
    for (const { target, event, listener } of this.added) target.removeListener(event, listener)
    this.added = []
    const layout = this.layout
    if (layout !== null) for (const widget of [layout.sidebar, layout.title, layout.pane.box, layout.status, layout.input, layout.popup]) widget.destroy()
    this.tui = null
    this.layout = null
  }

  private go(position: number, what: string | null = null): void {
    const from = this.session.position
    const stepped: ReadonlyArray<LogRecord> | null = this.session.moveTo(Math.max(1, position))
    this.message = what
    if (stepped === null) {
      this.teardown()
      this.build()
      return
    }
    if (this.session.position !== from) this.port.changed()
    this.tui?.showHint(this.hint())
  }

  private quit(): void {
    if (this.finish === null) return
    const finish = this.finish
    this.finish = null
    this.teardown()
    this.screen.destroy()
    finish(EXIT_OK)
  }

  private onPromptKey(ch: string | undefined, key: KeyEvent | undefined): void {
    const prompt = this.prompt!
    const name = key?.full ?? ch ?? ""
    if (name === "escape") this.prompt = null
    else if (name === "enter") {
      this.prompt = null
      this.runPrompt(prompt)
      return
    } else if (name === "backspace") prompt.text = prompt.text.slice(0, -1)
    else if (name !== "return" && ch !== undefined && ch.length === 1 && ch >= " " && prompt.text.length < MAX_PROMPT_CHARS) prompt.text += ch
    this.tui?.showHint(this.hint())
  }

  private runPrompt(prompt: Prompt): void {
    const text = prompt.text.trim()
    if (prompt.kind === "jump") {
      const bound: Bound | string = parseBound("jump", text)
      if (typeof bound === "string") return this.say(`not a seq or a time: ${text.slice(0, 40)}`)
      return this.go(bound.kind === "number" ? this.session.positionOfSeq(bound.value) : this.session.positionOfTime(bound.ms))
    }
    const query = text === "" ? this.lastSearch : text
    if (query === "") return this.say("search for what?")
    this.lastSearch = query
    const found = this.session.search(query)
    if (found === undefined) return this.say(`no record mentions "${query.slice(0, 40)}"`)
    this.go(found)
  }

  private say(text: string): void {
    this.message = text
    this.tui?.showHint(this.hint())
  }

  /** The viewer's keys, before the chat's own; true when handled here. */
  private onKey(ch: string | undefined, key: KeyEvent | undefined): boolean {
    if (this.prompt !== null) {
      this.onPromptKey(ch, key)
      return true
    }
    this.message = null
    const name = key?.full ?? ch ?? ""
    const position = this.session.position
    switch (name) {
      case "n":
      case "right":
        this.go(position + 1, position >= this.session.records.length ? "this is the last record" : null)
        return true
      case "p":
      case "left":
        this.go(position - 1, position <= 1 ? "this is the first record" : null)
        return true
      case "m":
      case "S-m": {
        const next = this.session.nextMessage(ch === "M" ? -1 : 1)
        if (next === undefined) this.say(`no ${ch === "M" ? "earlier" : "later"} message`)
        else this.go(next)
        return true
      }
      case "<":
      case "S-,":
      case "home":
        this.go(1)
        return true
      case ">":
      case "S-.":
      case "end":
        this.go(this.session.records.length)
        return true
      case "g":
        this.prompt = { kind: "jump", text: "" }
        this.tui?.showHint(this.hint())
        return true
      case "/":
        this.prompt = { kind: "search", text: "" }
        this.tui?.showHint(this.hint())
        return true
      case "q":
        this.quit()
        return true
      case "?":
      case "S-/":
        this.tui?.announce(VIEW_KEYS, "info")
        this.say(VIEW_KEYS)
        return true
      default:
        break
    }
    // Other printable keys would type into the input line: in a replay there is nothing to send.
    if (ch !== undefined && ch.length === 1 && ch >= " " && key?.ctrl !== true && key?.meta !== true) {
      this.say(`read-only replay: ${VIEW_KEYS}`)
      return true
    }
    this.tui?.showHint(this.hint())
    return false
  }
}

export const view = async (target: string, at: Bound | undefined, out: Output): Promise<number> => {
  const location = located(target, out)
  if (location === undefined) return EXIT_USAGE
  if (process.stdin.isTTY !== true || process.stdout.isTTY !== true) {
    out.note("replay: view needs an interactive terminal (stdin and stdout a TTY); for a script use state --at or timeline")
    return EXIT_USAGE
  }
  const records: Array<LogRecord> = []
  let tooMany = false
  eachRecord(location, out, ({ record }) => {
    if (records.length >= MAX_VIEW_RECORDS) {
      tooMany = true
      return false
    }
    records.push(record)
    return true
  })
  if (tooMany) {
    out.note(`replay: the view holds at most ${MAX_VIEW_RECORDS} records in memory; this log has more (use state --at, timeline --since)`)
    return EXIT_USAGE
  }
  if (records.length === 0) {
    out.note("replay: the log has no record to show")
    return EXIT_OK
  }
  const session = new ReplaySession(records)
  const start = at === undefined ? records.length : at.kind === "number" ? session.positionOfSeq(at.value) : session.positionOfTime(at.ms)
  session.moveTo(Math.max(1, start))
  return new Viewer(session, location.file).run()
}

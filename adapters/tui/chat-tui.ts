/**
 * The terminal chat client's controller: keeps the buffers, reads the service's snapshot whenever
 * it announces a change, and wires the parts together: keys and pastes (input-controller.ts),
 * commands (command-runner.ts), incoming requests (request-flow.ts), popups (popup-screens.ts),
 * notes about changes (change-notes.ts) and drawing (screen-renderer.ts). Everything the service
 * does goes through ChatPort; everything on screen goes through the pure views and the sanitizer.
 */
import type { Widgets } from "blessed"
import type { RequestEntry } from "../../domain/chat/chat-state.ts"
import { topics, type GroupName, type UserId } from "../../domain/ids.ts"
import { bufferKeyOf, ChatBuffer, STATUS_KEY, type NoteLevel } from "./chat-buffer.ts"
import { type ChatAction, type ChatNotice, type ChatPort, type ChatSnapshot, type ConnectionState, type GroupListing, type UserListing } from "./chat-port.ts"
import { noteChanges } from "./change-notes.ts"
import { CommandRunner } from "./command-runner.ts"
import type { BufferTarget } from "./commands.ts"
import { Drafts } from "./drafts.ts"
import { HistoryLoader } from "./history-loader.ts"
import { BufferList } from "./buffer-list.ts"
import { InputController } from "./input-controller.ts"
import type { KeyEvent } from "./keymap.ts"
import type { Layout } from "./layout.ts"
import type { LineEditor } from "./line-editor.ts"
import { PopupScreens } from "./popup-screens.ts"
import type { Popup } from "./popups.ts"
import { MAX_OPEN_POPUPS, RequestFlow } from "./request-flow.ts"
import { sanitizeText } from "./sanitize.ts"
import { ScreenRenderer } from "./screen-renderer.ts"
import { SnapshotView } from "./snapshot-view.ts"
import { MAX_LINE_CHARS } from "./split-message.ts"
import type { TuiHost } from "./tui-host.ts"
import { UiMemory } from "./ui-memory.ts"
import type { UiStateStore } from "./ui-state-store.ts"
import { counted } from "./plural.ts"

/** Changes are folded into one refresh per interval: a burst of messages costs one redraw. */
const REFRESH_INTERVAL_MS = 40

export interface ChatTuiOptions {
  readonly port: ChatPort
  readonly layout: Layout
  /** Shown in the status bar, e.g. "mqtt://127.0.0.1:1883 (embedded)"; it may change (a takeover). */
  readonly brokerLabel: () => string
  readonly uiState: UiStateStore
  /** Written to the status buffer at start (broker choice, recovery report). */
  readonly startupNotes: ReadonlyArray<{ readonly text: string; readonly level: NoteLevel }>
  /** Diagnostics go to the log file, never over the UI. */
  readonly diagnostics: (line: string) => void
  /** /quit, Ctrl-Q, Ctrl-C: the app shuts the service down and exits. */
  readonly requestQuit: () => void
  readonly now?: () => number
  /** Sees each key before the UI does (when no popup is open); true means it was handled there (the replay viewer steps with it). */
  readonly interceptKey?: (ch: string | undefined, key: KeyEvent | undefined) => boolean
  /** Pop incoming requests up as questions (default true; the replay viewer, which cannot answer, leaves them in F6). */
  readonly askRequests?: boolean
  /**
   * The terminal bell for what arrives out of sight (bell.ts): "saved" follows the profile's /bell
   * setting (on by default), "off" starts with it off (--no-bell); absent, it never rings (the replay viewer).
   */
  readonly bell?: "saved" | "off"
}

export class ChatTui implements TuiHost {
  readonly port: ChatPort
  readonly layout: Layout
  private readonly screen: Widgets.Screen
  readonly me: string
  readonly now: () => number
  private readonly buffers: BufferList
  private readonly view = new SnapshotView()
  private active = STATUS_KEY
  private current: ChatSnapshot
  private connectionState: ConnectionState
  /** The log's last sequence number at start: what is at or below it was "earlier". */
  private readonly startSeq: number
  /** The input line of each buffer: switching buffers switches drafts (and cursor, and ↑/↓ history). */
  readonly drafts = new Drafts(MAX_LINE_CHARS)
  readonly popups: Popup[] = []
  readonly quiet = new Set<string>()
  readonly withdrawnJoins = new Set<string>()
  hint: string | null = null
  highlight: { readonly key: string; readonly seq: number } | null = null
  private jump: { readonly key: string; readonly seq: number } | null = null
  private problems = 0
  private refreshTimer: NodeJS.Timeout | null = null
  private renderPending = false
  private unsubscribe: (() => void) | null = null
  private switchedBuffer = true
  /** From the terminal's focus reports (DEC 1004); a terminal that sends none counts as focused. */
  private focused = true
  private closed = false
  private readonly requests: RequestFlow
  private readonly screens: PopupScreens
  private readonly commands: CommandRunner
  private readonly input: InputController
  private readonly renderer: ScreenRenderer
  private readonly history: HistoryLoader
  private readonly memory: UiMemory

  constructor(private readonly options: ChatTuiOptions) {
    this.port = options.port
    this.layout = options.layout
    this.screen = options.layout.screen
    this.me = options.port.me
    this.now = options.now ?? Date.now
    this.current = this.port.snapshot()
    this.connectionState = this.port.connection()
    this.startSeq = this.current.lastSeq
    this.requests = new RequestFlow(this, () => this.screens.showRequests(), options.askRequests !== false)
    this.screens = new PopupScreens(this, (command) => void this.commands.run(command), (request) => this.requests.askRequest(request))
    this.commands = new CommandRunner(this, this.screens, this.requests)
    this.input = new InputController(this, { commands: this.commands, screens: this.screens, requests: this.requests, interceptKey: options.interceptKey, redraw: () => this.screen.realloc() })
    this.renderer = new ScreenRenderer(this)
    this.history = new HistoryLoader(this, (buffer) => this.markRead(buffer))
    this.memory = new UiMemory(options.uiState, this.current, options.bell ?? null, () => ({
      lastBuffer: this.activeKey,
      drafts: this.drafts.saved(),
      closedGroups: this.buffers.closedGroups(),
    }))
    const saved = this.memory.saved
    this.buffers = new BufferList(this.me, this.startSeq, saved?.closedGroups ?? [])
    this.buffers.sync(this.current, this.quiet)
    for (const note of options.startupNotes) this.note(STATUS_KEY, note.text, note.level)
    const pending = this.current.requests.filter((r) => r.status === "pending").length
    if (pending > 0) this.note(STATUS_KEY, `${counted(pending, "request")} waiting for your answer (F6)`, "event")
    this.note(STATUS_KEY, "Menu: F1 users & groups · F2 create group · F3 groups · F4 join · F5 talk · F6 requests · F7 acceptances · F8 help (Ctrl-O: all)", "info")
    if (saved?.lastBuffer !== undefined && saved.lastBuffer !== null && this.buffers.has(saved.lastBuffer)) this.active = saved.lastBuffer
    if (saved?.drafts !== undefined) this.drafts.restore(saved.drafts)
  }

  get snapshot(): ChatSnapshot {
    return this.current
  }

  get connection(): ConnectionState {
    return this.connectionState
  }

  get activeKey(): string {
    return this.active
  }

  get order(): ReadonlyArray<string> {
    return this.buffers.order
  }

  /** The active buffer's input line: what is typed goes there, and only there. */
  get editor(): LineEditor {
    return this.drafts.editorFor(this.active)
  }

  buffer(key: string): ChatBuffer | undefined {
    return this.buffers.get(key)
  }

  quit(): void {
    this.options.requestQuit()
  }

  /** Starts listening to the service and the keyboard, and draws the first screen. */
  start(): void {
    this.unsubscribe = this.port.subscribe((notice) => this.onNotice(notice))
    this.screen.on("keypress", (ch: string | undefined, key: KeyEvent | undefined) => {
      if (!this.closed) this.input.onKey(ch, key)
    })
    this.screen.program.on("data", (data: Buffer | string) => {
      if (!this.closed) this.input.onRawInput(data)
    })
    this.screen.on("resize", () => {
      this.layout.relayout()
      this.layout.pane.refit()
      this.requestRender()
    })
    this.screen.on("render", () => this.renderer.placeCursor())
    this.layout.pane.box.on("wheelup", () => this.input.scroll("wheelUp"))
    this.layout.pane.box.on("wheeldown", () => this.input.scroll("wheelDown"))
    this.layout.sidebar.on("click", (mouse: Widgets.Events.IMouseEventArg) => this.onSidebarClick(mouse))
    // Focus reports arrive with the mouse reports blessed parses (the pane's wheel enables them).
    this.screen.program.on("focus", () => {
      this.focused = true
    })
    this.screen.program.on("blur", () => {
      this.focused = false
    })
    // Bracketed paste: a paste arrives framed, so its line breaks do not send it line by line.
    // Focus reports: while the terminal is in the background, the conversation on screen rings too.
    this.screen.program.output.write("\u001b[?2004h\u001b[?1004h")
    this.drafts.shown(this.active)
    this.activate(this.active)
    this.requests.offerNextRequest()
    this.render()
  }

  /** Stops listening and saves the UI state; the screen is the caller's to destroy. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.unsubscribe?.()
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer)
    this.memory.close()
    this.screen.program.output.write("\u001b[?2004l\u001b[?1004l")
  }

  /** A note in the status buffer from the app (e.g. the broker was taken over). */
  announce(text: string, level: NoteLevel): void {
    this.note(STATUS_KEY, text, level)
  }

  /** Shown in the status bar while the app shuts down. */
  showHint(text: string): void {
    this.hint = text
    this.render()
  }

  // --- service side

  private onNotice(notice: ChatNotice): void {
    if (this.closed) return
    switch (notice._tag) {
      case "dropped":
        // Drops are routine (own echoes, duplicates, stale presence): the file has them, the screen does not.
        // The topic and the reason can carry a sender's bytes: inert in the file too (someone tails it).
        this.options.diagnostics(sanitizeText(`dropped a message on ${notice.topic}: ${notice.reason}`, { keepNewlines: false }))
        return
      case "error":
        this.problems += 1
        this.options.diagnostics(`service error: ${notice.message}`)
        this.requestRender()
        return
      case "connection":
        this.onConnection(notice.state)
        return
      case "published":
        this.onPublished(notice.id)
        return
      case "message":
      case "changed":
        this.scheduleRefresh()
        return
    }
  }

  /** The broker has my message: its ○ turns into ✓ in whichever loaded buffer shows it. */
  private onPublished(id: string): void {
    this.view.acknowledged(id)
    this.requestRender()
  }

  /** My message is still on its way to the broker (in the outbox, no PUBACK seen yet). */
  isPending(id: string): boolean {
    return this.view.isPending(this.current, id)
  }

  private onConnection(state: ConnectionState): void {
    const before = this.connection
    this.connectionState = state
    this.options.diagnostics(`connection: ${JSON.stringify(state)}`)
    if (state._tag === "reconnecting" && before._tag === "connected") {
      this.note(STATUS_KEY, `connection to the broker lost (${state.error}); reconnecting — what you type stays here`, "error")
    } else if (state._tag === "connected" && before._tag !== "connected") {
      this.note(STATUS_KEY, "connected to the broker again", "info")
    }
    this.requestRender()
  }

  scheduleRefresh(): void {
    if (this.refreshTimer !== null || this.closed) return
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null
      this.refresh()
    }, REFRESH_INTERVAL_MS)
  }

  /** Reads the service's state again and brings every view up to date. */
  private refresh(): void {
    if (this.closed) return
    const previous = this.snapshot
    this.current = this.port.snapshot()
    this.connectionState = this.port.connection()
    this.requests.summariseBurst()
    // Buffers first: a note about a new conversation belongs in its own buffer.
    this.buffers.sync(this.current, this.quiet)
    noteChanges(this, previous, this.snapshot)
    // Before drawing: the BEL goes out with this screen's update, so the window is flagged by the time it shows.
    if (this.memory.shouldRing(previous, this.snapshot, this.me, this.focused ? this.activeKey : null, this.now())) this.screen.program.bell()
    this.requests.closeAnsweredRequestPopup()
    this.requests.offerNextRequest()
    const active = this.buffers.get(this.activeKey)
    if (active !== undefined) void this.history.catchUp(active)
    this.render()
  }

  // --- buffers

  topicOf(target: BufferTarget): string | null {
    if (target.kind === "group") return topics.groupTalk(target.group as GroupName)
    return target.user === this.me ? null : topics.talk(this.me as UserId, target.user as UserId)
  }

  userListing(user: string): UserListing | null {
    return this.view.user(this.current, user)
  }

  groupListing(group: string): GroupListing | null {
    return this.view.group(this.current, group)
  }

  /** /close: the buffer leaves the side list; the one before it is shown if it was. */
  closeBuffer(key: string): void {
    const previous = this.buffers.close(key)
    if (previous !== null && this.active === key) this.activate(previous)
    this.scheduleSave()
    this.requestRender()
  }

  get bellOn(): boolean {
    return this.memory.bellOn
  }

  setBell(on: boolean): string | null {
    return this.memory.setBell(on)
  }

  unreadOf(buffer: ChatBuffer): number {
    if (buffer.target === null || buffer.key === this.activeKey) return 0
    const topic = this.topicOf(buffer.target)
    if (topic === null) return 0
    return this.memory.unread(topic, this.snapshot.topics.get(topic)?.messages ?? 0)
  }

  pendingRequests(): ReadonlyArray<RequestEntry> {
    return this.snapshot.requests.filter((r) => r.status === "pending")
  }

  requestsOfBuffer(buffer: ChatBuffer): ReadonlyArray<RequestEntry> {
    const target = buffer.target
    if (target === null) return []
    return this.pendingRequests().filter((r) => (target.kind === "peer" ? r.kind === "chat" && r.from === target.user : r.kind === "group" && r.group === target.group))
  }

  private markRead(buffer: ChatBuffer): void {
    if (buffer.target === null) return
    const topic = this.topicOf(buffer.target)
    if (topic === null) return
    this.memory.markRead(topic, this.snapshot.topics.get(topic)?.messages ?? 0)
  }

  scheduleSave(): void {
    this.memory.scheduleSave()
  }

  note(key: string, text: string, level: NoteLevel): void {
    const buffer = this.buffers.get(key) ?? this.buffers.get(STATUS_KEY)
    buffer?.addNote({ at: this.now(), text, level, anchorSeq: this.snapshot.lastSeq })
    this.requestRender()
  }

  /** A note in the buffer of `target` if it has one, else in the status buffer. */
  noteFor(target: BufferTarget, text: string, level: NoteLevel): void {
    const key = bufferKeyOf(target)
    this.note(this.buffers.has(key) ? key : STATUS_KEY, text, level)
  }

  activate(key: string): void {
    const buffer = this.buffers.get(key)
    if (buffer === undefined) return
    if (key !== this.activeKey) {
      this.switchedBuffer = true
      this.highlight = null
      this.drafts.shown(key)
    }
    this.active = key
    this.markRead(buffer)
    this.scheduleSave()
    void this.history.catchUp(buffer)
    this.requestRender()
  }

  open(target: BufferTarget): void {
    if (target.kind === "peer" && target.user === this.me) {
      this.note(this.activeKey, "that is your own id: talk to someone else", "error")
      return
    }
    this.activate(this.buffers.ensure(target).key)
  }

  takeJump(key: string): number | null {
    const jump = this.jump
    if (jump === null || jump.key !== key) return null
    this.jump = null
    return jump.seq
  }

  async jumpTo(key: string, seq: number): Promise<void> {
    const buffer = this.buffers.get(key)
    if (buffer === undefined) return
    this.activate(key)
    const reached = await this.history.loadBackTo(buffer, seq)
    if (reached !== true) return this.note(key, reached, "error")
    this.highlight = { key, seq }
    this.jump = { key, seq }
    this.requestRender()
  }

  async loadOlder(buffer: ChatBuffer): Promise<void> {
    return this.history.loadOlder(buffer)
  }

  async perform(action: ChatAction): Promise<boolean> {
    const outcome = await this.port.perform(action)
    if (!outcome.ok) this.note(this.active, outcome.error, "error")
    this.scheduleRefresh()
    return outcome.ok
  }

  pushPopup(popup: Popup): void {
    if (this.popups.length >= MAX_OPEN_POPUPS) {
      const dropped = this.popups.shift()
      if (dropped !== undefined) this.requests.forget(dropped)
    }
    this.popups.push(popup)
    this.requestRender()
  }

  private onSidebarClick(mouse: Widgets.Events.IMouseEventArg): void {
    const row = mouse.y - (this.layout.sidebar.atop as number)
    const target = this.renderer.sidebarTargets[row]
    if (target === undefined || target === null) return
    if (target === "requests") return this.screens.showRequests()
    if (target === "users") return this.screens.showUsers()
    if (this.buffers.has(target)) return this.activate(target)
    if (target.startsWith("@")) return this.open({ kind: "peer", user: target.slice(1) })
    if (target.startsWith("#")) return this.open({ kind: "group", group: target.slice(1) })
  }

  requestRender(): void {
    if (this.renderPending || this.closed) return
    this.renderPending = true
    setImmediate(() => {
      this.renderPending = false
      this.render()
    })
  }

  private render(): void {
    if (this.closed) return
    const active = this.buffers.get(this.active) ?? this.buffers.get(STATUS_KEY)
    if (active === undefined) return
    if (active.key === this.active) this.markRead(active)
    this.renderer.draw(active, { brokerLabel: this.options.brokerLabel(), problems: this.problems, resetScroll: this.switchedBuffer })
    this.switchedBuffer = false
  }
}

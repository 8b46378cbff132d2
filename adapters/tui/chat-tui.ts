/**
 * The terminal chat client: keeps the buffers, reads the service's snapshot whenever it announces
 * a change, turns changes into notes ("user-1 went offline"), pops up incoming requests, and draws
 * the layout. Everything the service does goes through ChatPort; everything on screen goes through
 * the pure views (views.ts, timeline.ts) and the sanitizer.
 */
import { StringDecoder } from "node:string_decoder"
import type { Widgets } from "blessed"
import type { RequestEntry } from "../../domain/chat/chat-state.ts"
import { parseTopic, topics, type GroupName, type UserId } from "../../domain/ids.ts"
import { MAX_TEXT_CHARS } from "../../domain/wire/messages.ts"
import { bufferKeyOf, ChatBuffer, STATUS_KEY, type NoteLevel } from "./chat-buffer.ts"
import { chatTargetOf, type ChatAction, type ChatNotice, type ChatPort, type ChatSnapshot, type ConnectionState, type GroupListing, type UserListing } from "./chat-port.ts"
import { COMMANDS, completeWord, parseInput, type BufferTarget, type RequestTarget, type SlashCommand } from "./commands.ts"
import { intentOf, keyHelpLines, MENU_ITEMS, type EditOperation, type KeyEvent, type MenuItem, type ScrollAmount, type UiIntent } from "./keymap.ts"
import type { Layout } from "./layout.ts"
import { Drafts } from "./drafts.ts"
import type { LineEditor } from "./line-editor.ts"
import { ListPopup, PromptPopup, QuestionPopup, type ListItem, type Popup, type Suggestion } from "./popups.ts"
import { RequestBurst, RequestSummaryPopup } from "./request-alerts.ts"
import { cleanPastedText, escapeTags, sanitizeText } from "./sanitize.ts"
import { seg, styledLine } from "./styled.ts"
import { momentLabel, renderTimeline, timeOfDay } from "./timeline.ts"
import { describeWhoIs } from "./whois-view.ts"
import type { UiStateStore } from "./ui-state-store.ts"
import { conversationWord, membershipWord, promptText, renderSidebar, renderStatusBar, renderTitle, type BufferSummary } from "./views.ts"

/** Changes are folded into one refresh per interval: a burst of messages costs one redraw. */
const REFRESH_INTERVAL_MS = 40
const SAVE_UI_STATE_AFTER_MS = 2_000
/** Open popups at once (menu → prompt → …); requests wait in their queue beyond this. */
const MAX_OPEN_POPUPS = 4
/** Requests remembered as already shown (they are also bounded by the domain's request history). */
const MAX_ASKED_REQUESTS = 2_000
const MIN_PAGE_MESSAGES = 50
const WHEEL_ROWS = 3
/** A request popup ignores answers this long after it appears: keys already on their way are typing. */
const QUESTION_ARM_MS = 500
/** Messages read at most when catching a buffer up; more missed than that, and it starts over from the newest page. */
const MAX_CATCH_UP_MESSAGES = 2_000
const PASTE_START = "\u001b[200~"
const PASTE_END = "\u001b[201~"

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
}

type RequestKey = string
const requestKey = (request: RequestEntry): RequestKey => request.requestId

/** Matches shown by /search, newest first. */
const SEARCH_RESULTS = 200

export class ChatTui {
  private readonly port: ChatPort
  private readonly layout: Layout
  private readonly screen: Widgets.Screen
  private readonly me: string
  private readonly now: () => number
  private readonly buffers = new Map<string, ChatBuffer>()
  private order: string[] = [STATUS_KEY]
  private activeKey = STATUS_KEY
  private snapshot: ChatSnapshot
  private connection: ConnectionState
  /** The log's last sequence number at start: what is at or below it was "earlier". */
  private readonly startSeq: number
  /** The input line of each buffer: switching buffers switches drafts (and cursor, and ↑/↓ history). */
  private readonly drafts = new Drafts(MAX_TEXT_CHARS)
  private readonly popups: Popup[] = []
  private requestPopup: RequestKey | null = null
  private readonly askedRequests = new Set<RequestKey>()
  /** Requests that come close together are summarised (request-alerts.ts), not asked one by one. */
  private readonly requestBurst = new RequestBurst()
  private requestSummary: RequestSummaryPopup | null = null
  /** Who is in a summary and still waits: no buffer, no notes of their own ("@user", "#group user"). */
  private readonly quiet = new Set<string>()
  private readonly loadingNewest = new Set<string>()
  private readCounts: Record<string, number>
  private problems = 0
  private hint: string | null = null
  private sidebarTargets: ReadonlyArray<string | null> = []
  private refreshTimer: NodeJS.Timeout | null = null
  private renderPending = false
  private saveTimer: NodeJS.Timeout | null = null
  private unsubscribe: (() => void) | null = null
  private readonly decoder = new StringDecoder("utf8")
  private pasting = false
  private pasted = ""
  private swallowKeys = false
  private switchedBuffer = true
  private closed = false
  /** Where the cursor goes after a render: the input line's column, or a popup's prompt. */
  private cursorColumn = 0
  private popupCursor: { readonly row: number; readonly column: number } | null = null

  constructor(private readonly options: ChatTuiOptions) {
    this.port = options.port
    this.layout = options.layout
    this.screen = options.layout.screen
    this.me = options.port.me
    this.now = options.now ?? Date.now
    this.snapshot = this.port.snapshot()
    this.connection = this.port.connection()
    this.startSeq = this.snapshot.lastSeq
    const saved = options.uiState.load()
    // No saved state (first run of the UI on this profile): what is in the log counts as read.
    this.readCounts = saved === null
      ? Object.fromEntries([...this.snapshot.topics].map(([topic, summary]) => [topic, summary.messages]))
      : { ...saved.readCounts }
    this.buffers.set(STATUS_KEY, new ChatBuffer(STATUS_KEY, null, this.startSeq))
    this.syncBuffers()
    for (const note of options.startupNotes) this.note(STATUS_KEY, note.text, note.level)
    const pending = this.snapshot.requests.filter((r) => r.status === "pending").length
    if (pending > 0) this.note(STATUS_KEY, `${pending} request${pending === 1 ? "" : "s"} waiting for your answer (F6)`, "event")
    this.note(STATUS_KEY, "Menu: F1 users & groups · F2 create group · F3 groups · F4 join · F5 talk · F6 requests · F7 acceptances · F8 help (Ctrl-O: all)", "info")
    if (saved?.lastBuffer !== undefined && saved.lastBuffer !== null && this.buffers.has(saved.lastBuffer)) this.activeKey = saved.lastBuffer
    if (saved?.drafts !== undefined) this.drafts.restore(saved.drafts)
  }

  /** The active buffer's input line: what is typed goes there, and only there. */
  private get editor(): LineEditor {
    return this.drafts.editorFor(this.activeKey)
  }

  /** Starts listening to the service and the keyboard, and draws the first screen. */
  start(): void {
    this.unsubscribe = this.port.subscribe((notice) => this.onNotice(notice))
    this.screen.on("keypress", (ch: string | undefined, key: KeyEvent | undefined) => this.onKey(ch, key))
    this.screen.program.on("data", (data: Buffer | string) => this.onRawInput(data))
    this.screen.on("resize", () => {
      this.layout.relayout()
      this.layout.pane.refit()
      this.requestRender()
    })
    this.screen.on("render", () => this.placeCursor())
    this.layout.pane.box.on("wheelup", () => this.scroll("wheelUp"))
    this.layout.pane.box.on("wheeldown", () => this.scroll("wheelDown"))
    this.layout.sidebar.on("click", (mouse: Widgets.Events.IMouseEventArg) => this.onSidebarClick(mouse))
    // Bracketed paste: a paste arrives framed, so its line breaks do not send it line by line.
    this.screen.program.output.write("\u001b[?2004h")
    this.activate(this.activeKey)
    this.offerNextRequest()
    this.render()
  }

  /** Stops listening and saves the UI state; the screen is the caller's to destroy. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.unsubscribe?.()
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer)
    if (this.saveTimer !== null) clearTimeout(this.saveTimer)
    this.saveUiState()
    this.screen.program.output.write("\u001b[?2004l")
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
      case "message":
      case "changed":
        this.scheduleRefresh()
        return
    }
  }

  private onConnection(state: ConnectionState): void {
    const before = this.connection
    this.connection = state
    this.options.diagnostics(`connection: ${JSON.stringify(state)}`)
    if (state._tag === "reconnecting" && before._tag === "connected") {
      this.note(STATUS_KEY, `connection to the broker lost (${state.error}); reconnecting — what you type stays here`, "error")
    } else if (state._tag === "connected" && before._tag !== "connected") {
      this.note(STATUS_KEY, "connected to the broker again", "info")
    }
    this.requestRender()
  }

  private scheduleRefresh(): void {
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
    this.snapshot = this.port.snapshot()
    this.connection = this.port.connection()
    this.summariseBurst()
    // Buffers first: a note about a new conversation belongs in its own buffer.
    this.syncBuffers()
    this.noteChanges(previous, this.snapshot)
    this.closeAnsweredRequestPopup()
    this.offerNextRequest()
    const active = this.buffers.get(this.activeKey)
    if (active !== undefined) void this.catchUp(active)
    this.render()
  }

  // --- buffers

  private topicOf(target: BufferTarget): string | null {
    if (target.kind === "group") return topics.groupTalk(target.group as GroupName)
    return target.user === this.me ? null : topics.talk(this.me as UserId, target.user as UserId)
  }

  /** Listings by id, built once per snapshot: each buffer of the side list looks its own up at every render. */
  private listings: { readonly of: ChatSnapshot; readonly users: Map<string, UserListing>; readonly groups: Map<string, GroupListing> } | null = null

  private listingsNow() {
    if (this.listings?.of !== this.snapshot) {
      this.listings = { of: this.snapshot, users: new Map(this.snapshot.users.map((u) => [u.user, u])), groups: new Map(this.snapshot.groups.map((g) => [g.name, g])) }
    }
    return this.listings
  }

  private userListing(user: string): UserListing | null {
    return this.listingsNow().users.get(user) ?? null
  }

  private groupListing(group: string): GroupListing | null {
    return this.listingsNow().groups.get(group) ?? null
  }

  private ensureBuffer(target: BufferTarget): ChatBuffer {
    const key = bufferKeyOf(target)
    const existing = this.buffers.get(key)
    if (existing !== undefined) return existing
    const buffer = new ChatBuffer(key, target, this.startSeq)
    this.buffers.set(key, buffer)
    this.sortBuffers()
    return buffer
  }

  /** Every conversation and group with a state or a history gets a buffer; none disappears. */
  private syncBuffers(): void {
    for (const user of this.snapshot.users) {
      if (user.conversation === "incoming" && this.quiet.has(`@${user.user}`)) continue
      if (user.conversation !== "idle") this.ensureBuffer({ kind: "peer", user: user.user })
    }
    for (const group of this.snapshot.groups) if (group.me === "member" || group.me === "leading" || group.me === "joining") this.ensureBuffer({ kind: "group", group: group.name })
    for (const topic of this.snapshot.topics.keys()) {
      const kind = parseTopic(topic)
      if (kind.kind === "groupTalk") this.ensureBuffer({ kind: "group", group: kind.group })
      if (kind.kind === "talk") {
        const peer = kind.users[0] === this.me ? kind.users[1] : kind.users[0]
        if (kind.users.includes(this.me as UserId)) this.ensureBuffer({ kind: "peer", user: peer })
      }
    }
  }

  private sortBuffers(): void {
    const keys = [...this.buffers.keys()].filter((key) => key !== STATUS_KEY)
    const peers = keys.filter((key) => key.startsWith("@")).sort((a, b) => a.length - b.length || a.localeCompare(b))
    const groups = keys.filter((key) => key.startsWith("#")).sort((a, b) => a.localeCompare(b))
    this.order = [STATUS_KEY, ...peers, ...groups]
  }

  private unreadOf(buffer: ChatBuffer): number {
    if (buffer.target === null || buffer.key === this.activeKey) return 0
    const topic = this.topicOf(buffer.target)
    if (topic === null) return 0
    const total = this.snapshot.topics.get(topic)?.messages ?? 0
    return Math.max(0, total - (this.readCounts[topic] ?? 0))
  }

  private pendingRequests(): ReadonlyArray<RequestEntry> {
    return this.snapshot.requests.filter((r) => r.status === "pending")
  }

  private requestsOfBuffer(buffer: ChatBuffer): ReadonlyArray<RequestEntry> {
    const target = buffer.target
    if (target === null) return []
    return this.pendingRequests().filter((r) => (target.kind === "peer" ? r.kind === "chat" && r.from === target.user : r.kind === "group" && r.group === target.group))
  }

  private markRead(buffer: ChatBuffer): void {
    if (buffer.target === null) return
    const topic = this.topicOf(buffer.target)
    if (topic === null) return
    const total = this.snapshot.topics.get(topic)?.messages ?? 0
    if (this.readCounts[topic] === total) return
    this.readCounts[topic] = total
    this.scheduleSave()
  }

  private scheduleSave(): void {
    if (this.saveTimer !== null) return
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null
      this.saveUiState()
    }, SAVE_UI_STATE_AFTER_MS)
  }

  private saveUiState(): void {
    this.options.uiState.save({ readCounts: this.readCounts, lastBuffer: this.activeKey, drafts: this.drafts.saved() })
  }

  private note(key: string, text: string, level: NoteLevel): void {
    const buffer = this.buffers.get(key) ?? this.buffers.get(STATUS_KEY)
    buffer?.addNote({ at: this.now(), text, level, anchorSeq: this.snapshot.lastSeq })
    this.requestRender()
  }

  /** A note in the buffer of `target` if it has one, else in the status buffer. */
  private noteFor(target: BufferTarget, text: string, level: NoteLevel): void {
    const key = bufferKeyOf(target)
    this.note(this.buffers.has(key) ? key : STATUS_KEY, text, level)
  }

  private activate(key: string): void {
    const buffer = this.buffers.get(key)
    if (buffer === undefined) return
    if (key !== this.activeKey) this.switchedBuffer = true
    this.activeKey = key
    this.markRead(buffer)
    this.scheduleSave()
    void this.catchUp(buffer)
    this.requestRender()
  }

  private open(target: BufferTarget): void {
    if (target.kind === "peer" && target.user === this.me) {
      this.note(this.activeKey, "that is your own id: talk to someone else", "error")
      return
    }
    this.activate(this.ensureBuffer(target).key)
  }

  private pageSize(): number {
    return Math.max(MIN_PAGE_MESSAGES, this.layout.pane.height * 2)
  }

  /**
   * Loads the newest page when the buffer is new, or what the log has past what is shown. The read
   * asks for enough to reach back to the newest loaded message; if it still does not (a flood, or
   * more missed than MAX_CATCH_UP_MESSAGES), the buffer starts over from the newest page.
   */
  private async catchUp(buffer: ChatBuffer): Promise<void> {
    const target = buffer.target
    if (target === null || this.loadingNewest.has(buffer.key)) return
    const topic = this.topicOf(target)
    if (topic === null) return
    const summary = this.snapshot.topics.get(topic)
    if (buffer.loaded && (summary?.lastSeq ?? 0) <= buffer.newestSeq) return
    const total = summary?.messages ?? 0
    const missed = Math.max(0, total - buffer.knownTotal)
    const limit = buffer.loaded ? Math.min(MAX_CATCH_UP_MESSAGES, this.pageSize() + missed) : this.pageSize()
    this.loadingNewest.add(buffer.key)
    try {
      const result = await this.port.history(chatTargetOf(target), { limit })
      if ("error" in result) {
        this.note(buffer.key, `could not read the history: ${result.error}`, "error")
        buffer.loaded = true
        buffer.version += 1
        return
      }
      const first = result.messages[0]
      const reachesLoaded = buffer.messages.length === 0 || first === undefined || !result.hasMore || first.seq <= buffer.newestSeq
      if (reachesLoaded) buffer.mergePage(result.messages, result.hasMore, false)
      else buffer.replaceWith(result.messages, result.hasMore)
      buffer.knownTotal = total
      if (buffer.key === this.activeKey) this.markRead(buffer)
    } finally {
      this.loadingNewest.delete(buffer.key)
      this.requestRender()
    }
    // Messages may have arrived while reading: one more look (it returns at once when caught up).
    const latest = this.snapshot.topics.get(topic)?.lastSeq ?? 0
    if (latest > buffer.newestSeq && buffer.key === this.activeKey) this.scheduleRefresh()
  }

  private async loadOlder(buffer: ChatBuffer): Promise<void> {
    const target = buffer.target
    const before = buffer.oldestSeq
    if (target === null || before === undefined || !buffer.loaded || buffer.loading || !buffer.hasOlder || buffer.roomForOlder === 0) return
    buffer.loading = true
    buffer.version += 1
    this.requestRender()
    try {
      const result = await this.port.history(chatTargetOf(target), { beforeSeq: before, limit: Math.min(buffer.roomForOlder, this.pageSize()) })
      if ("error" in result) this.note(buffer.key, `could not read older messages: ${result.error}`, "error")
      else buffer.mergePage(result.messages, result.hasMore, true)
    } finally {
      buffer.loading = false
      buffer.version += 1
      this.requestRender()
    }
  }

  // --- what changed between two snapshots, as notes

  private noteChanges(before: ChatSnapshot, after: ChatSnapshot): void {
    for (const user of after.keyChanges) {
      if (before.keyChanges.includes(user)) continue
      const text = `WARNING: ${user} now signs with different keys. Their messages are refused. If they reinstalled, compare safety numbers (/whois ${user}) and /trust ${user}; otherwise someone may be posing as them.`
      this.note(STATUS_KEY, text, "error")
      if (this.buffers.has(`@${user}`)) this.note(`@${user}`, text, "error")
    }
    const usersBefore = new Map(before.users.map((u) => [u.user as string, u]))
    for (const user of after.users) {
      const old = usersBefore.get(user.user)
      if (old !== undefined && old.status !== user.status && user.status !== "unknown") {
        const text = `${user.user} is ${user.status === "online" ? "online" : "offline"}`
        if (this.buffers.has(`@${user.user}`)) this.note(`@${user.user}`, text, "event")
        for (const group of after.groups) {
          if ((group.me === "member" || group.me === "leading") && group.members.includes(user.user)) this.note(`#${group.name}`, text, "event")
        }
      }
      const was = old?.conversation ?? "idle"
      if (was !== user.conversation) this.noteConversation(user, was, after)
    }
    this.noteWithdrawn(before, after)
    const groupsBefore = new Map(before.groups.map((g) => [g.name as string, g]))
    for (const group of after.groups) this.noteGroup(groupsBefore.get(group.name) ?? null, group)
    for (const [name, old] of groupsBefore) {
      if (!after.groups.some((g) => g.name === name) && (old.me === "member" || old.me === "leading")) this.noteFor({ kind: "group", group: name }, `#${name} no longer exists`, "event")
    }
  }

  private noteConversation(user: UserListing, was: UserListing["conversation"], after: ChatSnapshot): void {
    const peer = user.user
    const target: BufferTarget = { kind: "peer", user: peer }
    const topic = this.topicOf(target)
    switch (user.conversation) {
      case "outgoing":
        this.noteFor(target, `asked ${peer} for a conversation; waiting for an answer (they get it even if offline now)`, "info")
        return
      case "incoming":
        if (this.quiet.has(`@${peer}`)) return
        this.noteFor(target, `${peer} asks for a one-to-one conversation: y / n in the popup, or /accept ${peer}, /refuse ${peer}`, "event")
        this.note(STATUS_KEY, `${peer} asks for a one-to-one conversation (F6: requests)`, "event")
        return
      case "active":
        this.noteFor(target, `${was === "outgoing" ? `${peer} accepted` : "accepted"}: conversation open on topic ${topic ?? "?"}`, "event")
        return
      case "closed": {
        const outcome = after.outcomes[peer] ?? "none"
        const text = outcome === "refused" ? `${peer} refused the conversation`
          : outcome === "refused-by-me" ? `you refused ${peer}'s request`
          : outcome === "timed-out" ? "the request timed out without an answer"
          : outcome === "left" ? "you left the conversation"
          : outcome === "peer-left" ? `${peer} left the conversation`
          : "the conversation ended"
        this.noteFor(target, `${text} — /talk ${peer} to ask again`, "event")
        return
      }
      case "idle":
        return
    }
  }

  /** A request withdrawn before I answered: the conversation is no more (the core keeps only a tombstone). */
  private noteWithdrawn(before: ChatSnapshot, after: ChatSnapshot): void {
    const now = new Map(after.users.map((u) => [u.user as string, u.conversation]))
    for (const user of before.users) {
      const view = now.get(user.user) ?? "idle"
      if (user.conversation !== "incoming" || view !== "idle" || this.quiet.has(`@${user.user}`)) continue
      this.noteFor({ kind: "peer", user: user.user }, `${user.user} withdrew the request — /talk ${user.user} to ask`, "event")
    }
  }

  private noteGroup(old: GroupListing | null, group: GroupListing): void {
    const target: BufferTarget = { kind: "group", group: group.name }
    const name = `#${group.name}`
    const wasIn = old !== null && (old.me === "member" || old.me === "leading")
    const isIn = group.me === "member" || group.me === "leading"
    const was = old?.me ?? "absent"
    if (was !== group.me) {
      if (group.me === "leading" && (was === "absent" || was === "listed")) this.noteFor(target, `you created ${name} and lead it; others can /join ${group.name}`, "event")
      else if (group.me === "leading") this.noteFor(target, `you now lead ${name}`, "event")
      else if (group.me === "joining") this.noteFor(target, `asked ${group.leader} (the leader) to let you into ${name}`, "info")
      else if (group.me === "member" && was === "joining") this.noteFor(target, `${group.leader} accepted you into ${name} (topic ${topics.groupTalk(group.name)})`, "event")
      else if (group.me === "listed" && was === "joining") this.noteFor(target, `your request to join ${name} was refused`, "event")
      else if (wasIn && !isIn) this.noteFor(target, `you left ${name}`, "event")
    }
    if (wasIn && isIn && old !== null) {
      for (const member of group.members) if (!old.members.includes(member) && member !== this.me) this.noteFor(target, `${member} joined ${name}`, "event")
      for (const member of old.members) if (!group.members.includes(member) && member !== this.me) this.noteFor(target, `${member} left ${name}`, "event")
      if (old.leader !== group.leader && group.leader !== this.me) this.noteFor(target, `${group.leader} now leads ${name}`, "event")
    }
    if (group.me === "leading") {
      for (const user of group.pending) {
        if (old?.pending.includes(user) === true || this.quiet.has(`#${group.name} ${user}`)) continue
        this.noteFor(target, `${user} asks to join ${name}: y / n in the popup, or /accept #${group.name} ${user}`, "event")
        this.note(STATUS_KEY, `${user} asks to join ${name} (F6: requests)`, "event")
      }
    }
  }

  // --- requests

  /**
   * Requests not yet asked, when they come as part of a burst: one summary popup counts them (and
   * the request popup open at the time), instead of a popup each. They stay pending in F6.
   */
  private summariseBurst(): void {
    const fresh = this.pendingRequests().filter((r) => !this.askedRequests.has(requestKey(r)))
    if (fresh.length === 0) return
    const burst = this.requestBurst.arrive(fresh.map(requestKey), this.now())
    if (!burst && this.requestSummary === null) return
    if (this.requestSummary === null) {
      const summary = new RequestSummaryPopup(() => this.showRequests(), this.now, QUESTION_ARM_MS)
      this.requestSummary = summary
      // The question open now is part of the burst: the summary takes its place.
      const top = this.popups[this.popups.length - 1]
      if (top instanceof QuestionPopup && this.requestPopup !== null) {
        this.popups.pop()
        this.requestPopup = null
        summary.count += 1
      }
      this.pushPopup(summary)
      this.note(STATUS_KEY, "requests are arriving close together: they are counted in one popup, not asked one by one (F6 lists them)", "event")
      setTimeout(() => this.requestRender(), Math.max(0, summary.armsAt - this.now()) + 10)
    }
    for (const request of fresh) {
      this.rememberAsked(requestKey(request))
      this.quiet.add(request.kind === "chat" ? `@${request.from}` : `#${request.group ?? "?"} ${request.from}`)
      this.requestSummary.count += 1
    }
    if (this.quiet.size > MAX_ASKED_REQUESTS) this.quiet.clear()
    this.requestRender()
  }

  private offerNextRequest(): void {
    if (this.popups.length > 0 || this.options.askRequests === false) return
    const next = this.pendingRequests().find((r) => !this.askedRequests.has(requestKey(r)))
    if (next === undefined) return
    this.askRequest(next)
  }

  private askRequest(request: RequestEntry): void {
    if (this.popups.length >= MAX_OPEN_POPUPS) return
    this.rememberAsked(requestKey(request))
    const group = request.group
    const question = request.kind === "chat"
      ? [[seg(request.from, { bold: true, fg: "cyan" }), seg(" wants a one-to-one conversation with you.")]]
      : [[seg(request.from, { bold: true, fg: "cyan" }), seg(" asks to join "), seg(`#${group ?? "?"}`, { bold: true }), seg(" (you lead it).")]]
    question.push([seg(`received ${timeOfDay(request.at)}`, { fg: "grey" })])
    this.requestPopup = requestKey(request)
    const popup = new QuestionPopup(
      request.kind === "chat" ? "Conversation request" : "Join request",
      question,
      {
        yes: () => void this.answer(request, true, null),
        no: () => void this.answer(request, false, null),
        later: () => this.note(STATUS_KEY, `request from ${request.from} left pending: F6 or /requests to answer it`, "info"),
      },
      this.now,
      QUESTION_ARM_MS,
    )
    this.pushPopup(popup)
    // Redraw when its keys start to count, so the footer says so.
    setTimeout(() => this.requestRender(), Math.max(0, popup.armsAt - this.now()) + 10)
  }

  private rememberAsked(key: RequestKey): void {
    this.askedRequests.add(key)
    if (this.askedRequests.size > MAX_ASKED_REQUESTS) {
      const oldest = this.askedRequests.values().next().value
      if (oldest !== undefined) this.askedRequests.delete(oldest)
    }
  }

  /** A request answered elsewhere (a command, a withdrawal) takes its popup with it. */
  private closeAnsweredRequestPopup(): void {
    if (this.requestPopup === null) return
    const stillPending = this.pendingRequests().some((r) => requestKey(r) === this.requestPopup)
    if (stillPending) return
    const top = this.popups[this.popups.length - 1]
    if (top instanceof QuestionPopup) this.popups.pop()
    this.requestPopup = null
  }

  private async answer(request: RequestEntry, accept: boolean, reason: string | null): Promise<void> {
    const action: ChatAction = request.kind === "chat"
      ? accept ? { _tag: "acceptConversation", user: request.from } : { _tag: "refuseConversation", user: request.from, reason }
      : accept ? { _tag: "acceptJoin", group: request.group ?? "", user: request.from } : { _tag: "refuseJoin", group: request.group ?? "", user: request.from, reason }
    const done = await this.perform(action)
    if (!done) return
    if (request.kind === "chat" && accept) this.open({ kind: "peer", user: request.from })
    if (request.kind === "group" && request.group !== null) {
      this.noteFor({ kind: "group", group: request.group }, `${accept ? "accepted" : "refused"} ${request.from}'s request to join #${request.group}`, "info")
      if (accept) this.open({ kind: "group", group: request.group })
    }
  }

  /** Runs an action; a refusal by the service becomes an error note in the current buffer. */
  private async perform(action: ChatAction): Promise<boolean> {
    const outcome = await this.port.perform(action)
    if (!outcome.ok) this.note(this.activeKey, outcome.error, "error")
    this.scheduleRefresh()
    return outcome.ok
  }

  /** The request `/accept` or `/refuse` means: the named one, else this buffer's, else the oldest pending. */
  private findRequest(target: RequestTarget | null): RequestEntry | string {
    const pending = this.pendingRequests()
    if (target === null) {
      const active = this.buffers.get(this.activeKey)
      const here = active === undefined ? [] : this.requestsOfBuffer(active)
      return here[0] ?? pending[0] ?? "no request is waiting"
    }
    const found = target.kind === "chat"
      ? pending.find((r) => r.kind === "chat" && r.from === target.user)
      : pending.find((r) => r.kind === "group" && r.group === target.group && (target.user === null || r.from === target.user))
    if (found !== undefined) return found
    return target.kind === "chat" ? `no pending request from ${target.user}` : `no pending request to join #${target.group}${target.user === null ? "" : ` from ${target.user}`}`
  }

  // --- commands

  private submit(): void {
    const line = this.editor.take()
    if (line.trim().length === 0) return
    // A sent line is no draft any more: a restart must not offer it again.
    this.scheduleSave()
    const parsed = parseInput(line)
    if (!parsed.ok) {
      this.note(this.activeKey, parsed.error, "error")
      this.editor.setText(line)
      return
    }
    void this.run(parsed.command, line)
  }

  private async run(command: SlashCommand, line: string): Promise<void> {
    switch (command._tag) {
      case "say":
        return this.say(command.text, line)
      case "help":
        return this.showHelp(command.topic)
      case "menu":
        return this.showMenu()
      case "users":
        return this.showUsers()
      case "groups":
        return this.showGroups()
      case "requests":
        return this.showRequests()
      case "acceptances":
        return this.showAcceptances()
      case "search":
        return this.search(command.query)
      case "quit":
        return this.options.requestQuit()
      case "groupCreate":
        if (await this.perform({ _tag: "createGroup", group: command.group })) this.open({ kind: "group", group: command.group })
        return
      case "join":
        if (await this.perform({ _tag: "joinGroup", group: command.group })) this.open({ kind: "group", group: command.group })
        return
      case "talk":
        if (command.user === this.me) return this.note(this.activeKey, "that is your own id: talk to someone else", "error")
        // A typo would create a user and a day-long wait: an id nobody has seen is confirmed first.
        if (!this.snapshot.users.some((u) => u.user === command.user)) return this.confirmUnknownUser(command.user)
        return this.startTalk(command.user)
      case "accept":
      case "refuse": {
        const request = this.findRequest(command.target)
        if (typeof request === "string") return this.note(this.activeKey, request, "error")
        return this.answer(request, command._tag === "accept", command._tag === "refuse" ? command.reason : null)
      }
      case "leave": {
        const target = command.target ?? this.buffers.get(this.activeKey)?.target ?? null
        if (target === null) return this.note(this.activeKey, "the status buffer is not a conversation: /leave user-NNNNN or /leave #group", "error")
        await this.perform(target.kind === "peer" ? { _tag: "leaveConversation", user: target.user } : { _tag: "leaveGroup", group: target.group })
        return
      }
      case "open":
        if (command.target === "status") return this.activate(STATUS_KEY)
        return this.open(command.target)
      case "whois":
        return this.whois(command.user)
      case "trust":
        if (await this.perform({ _tag: "trustKeys", user: command.user })) this.note(this.activeKey, `${command.user}'s new keys are trusted: their messages are accepted again`, "event")
        return
    }
  }

  private async startTalk(user: string): Promise<void> {
    if (await this.perform({ _tag: "startConversation", user })) this.open({ kind: "peer", user })
  }

  private confirmUnknownUser(user: string): void {
    const notAsked = () => this.note(this.activeKey, `${user} not asked`, "info")
    this.pushPopup(new QuestionPopup(
      "Unknown user",
      [
        [seg(user, { bold: true, fg: "cyan" }), seg(" has never been seen on this broker (no presence, no conversation).")],
        [seg("A typo? If not, the request waits for them up to a day.", { fg: "grey" })],
      ],
      { yes: () => void this.startTalk(user), no: notAsked, later: notAsked },
      this.now,
      0, // the user asked the question: no typing can be in flight to answer it by accident
      "[y] ask anyway · [n] or [Esc] no",
    ))
  }

  private async whois(named: string | null): Promise<void> {
    const target = this.buffers.get(this.activeKey)?.target ?? null
    const user = named ?? (target?.kind === "peer" ? target.user : null)
    if (user === null) return this.note(this.activeKey, "whose keys? /whois user-NNNNN", "error")
    const result = await this.port.whois(user)
    if ("error" in result) return this.note(this.activeKey, result.error, "error")
    for (const line of describeWhoIs(result, this.me)) this.note(this.activeKey, line.text, line.level)
  }

  private async say(text: string, line: string): Promise<void> {
    const buffer = this.buffers.get(this.activeKey)
    if (buffer?.target === null || buffer === undefined) {
      this.note(STATUS_KEY, "this is the status buffer: open a conversation (Ctrl-N, /open user-NNNNN) or start one (F5, /talk user-NNNNN)", "error")
      this.drafts.editorFor(buffer?.key ?? this.activeKey).setText(line)
      return
    }
    if (this.connection._tag !== "connected") this.hint = "offline: the message is stored and sent when the broker is back"
    const outcome = await this.port.perform({ _tag: "send", target: chatTargetOf(buffer.target), text })
    if (!outcome.ok) {
      this.note(buffer.key, `not sent: ${outcome.error}`, "error")
      // Give the text back to its own buffer (the typist may have moved on) rather than lose it,
      // unless something new was typed there meanwhile.
      const editor = this.drafts.editorFor(buffer.key)
      if (editor.length === 0) editor.setText(line)
    }
    this.scheduleRefresh()
  }

  // --- popups

  private pushPopup(popup: Popup): void {
    if (this.popups.length >= MAX_OPEN_POPUPS) {
      const dropped = this.popups.shift()
      if (dropped === this.requestSummary) this.requestSummary = null
    }
    this.popups.push(popup)
    this.requestRender()
  }

  private showMenu(): void {
    const items: ListItem[] = MENU_ITEMS.map((entry, index) => ({
      segments: [seg(`${index + 1}  `, { fg: "yellow", bold: true }), seg(entry.title), seg(`  ${entry.key}`, { fg: "grey" })],
      hotkey: String(index + 1),
      run: () => this.runMenuItem(entry.item),
    }))
    items.push({ segments: [seg("9  ", { fg: "yellow", bold: true }), seg("Quit"), seg("  Ctrl-Q", { fg: "grey" })], hotkey: "9", run: () => this.options.requestQuit() })
    this.pushPopup(new ListPopup("Menu", items, "1-9 or ↑↓ Enter · Esc close"))
  }

  private runMenuItem(item: MenuItem): void {
    switch (item) {
      case "users":
        return this.showUsers()
      case "createGroup":
        return this.pushPopup(new PromptPopup("Create a group", "name:", [], (name) => void this.run(this.parsedOr(`/group create ${name}`), ""), 40))
      case "groups":
        return this.showGroups()
      case "joinGroup": {
        const joinable = this.snapshot.groups.filter((g) => g.me === "listed")
        const suggestions: Suggestion[] = joinable.map((g) => ({ value: g.name, segments: [seg(`#${g.name}`, { bold: true }), seg(`  leader ${g.leader} · ${g.members.length} members`, { fg: "grey" })] }))
        return this.pushPopup(new PromptPopup("Join a group", "group:", suggestions, (name) => void this.run(this.parsedOr(`/join ${name}`), ""), 40))
      }
      case "talk": {
        const candidates = [...this.snapshot.users]
          .filter((u) => u.conversation !== "active")
          .sort((a, b) => Number(b.status === "online") - Number(a.status === "online") || a.user.localeCompare(b.user))
        const suggestions: Suggestion[] = candidates.map((u) => ({ value: u.user, segments: [seg(u.status === "online" ? "● " : "○ ", { fg: u.status === "online" ? "green" : "grey" }), seg(u.user), seg(`  ${u.status}`, { fg: "grey" })] }))
        return this.pushPopup(new PromptPopup("Start a one-to-one conversation", "user id:", suggestions, (user) => void this.run(this.parsedOr(`/talk ${user}`), ""), 40))
      }
      case "requests":
        return this.showRequests()
      case "acceptances":
        return this.showAcceptances()
      case "help":
        return this.showHelp(null)
    }
  }

  /** A command built from a popup's answer; a bad answer becomes a help note instead. */
  private parsedOr(line: string): SlashCommand {
    const parsed = parseInput(line)
    if (parsed.ok) return parsed.command
    this.note(this.activeKey, parsed.error, "error")
    return { _tag: "help", topic: line.split(/\s+/)[0]?.slice(1) ?? null }
  }

  private userItem(user: UserListing): ListItem {
    const word = conversationWord(user.conversation)
    return {
      segments: [
        seg(user.status === "online" ? "● " : user.status === "offline" ? "○ " : "? ", { fg: user.status === "online" ? "green" : "grey" }),
        seg(user.user, { bold: true }),
        seg(`  ${user.status}`, { fg: user.status === "online" ? "green" : "grey" }),
        seg(word === null ? "  · conversation open" : `  · ${word}`, { fg: "grey" }),
      ],
      run: () => {
        if (user.conversation === "idle" || user.conversation === "closed") void this.run({ _tag: "talk", user: user.user }, "")
        else this.open({ kind: "peer", user: user.user })
      },
    }
  }

  private groupItem(group: GroupListing): ListItem {
    const word = membershipWord(group.me)
    const others = group.members.filter((m) => m !== group.leader)
    return {
      segments: [
        seg(`#${group.name}`, { bold: true }),
        seg(`  leader ${group.leader}`),
        seg(`  members: ${others.length === 0 ? "(none besides the leader)" : others.join(", ")}`, { fg: "grey" }),
        seg(word === null ? "" : `  · you: ${word}`, { fg: "yellow" }),
      ],
      run: () => {
        if (group.me === "listed") void this.run({ _tag: "join", group: group.name }, "")
        else this.open({ kind: "group", group: group.name })
      },
    }
  }

  private heading(text: string): ListItem {
    return { segments: [seg(text, { fg: "grey", bold: true })] }
  }

  private showUsers(): void {
    const users = [...this.snapshot.users].sort((a, b) => Number(b.status === "online") - Number(a.status === "online") || a.user.localeCompare(b.user))
    const online = users.filter((u) => u.status === "online").length
    const items: ListItem[] = [this.heading(`Users — ${online} online, ${users.length - online} not (you are ${this.me})`), ...users.map((u) => this.userItem(u))]
    if (users.length === 0) items.push({ segments: [seg("  nobody else seen yet", { fg: "grey" })] })
    items.push(this.heading(""), this.heading(`Groups — ${this.snapshot.groups.length}`), ...this.snapshot.groups.map((g) => this.groupItem(g)))
    this.pushPopup(new ListPopup("Users and groups", items, "Enter: talk / open / join · Esc close"))
  }

  private showGroups(): void {
    const items = this.snapshot.groups.map((g) => this.groupItem(g))
    this.pushPopup(new ListPopup(`Groups (${items.length}) — name, leader, members`, items, "Enter: open or ask to join · Esc close"))
  }

  private showRequests(): void {
    const requests = [...this.snapshot.requests].reverse().sort((a, b) => Number(b.status === "pending") - Number(a.status === "pending"))
    const items: ListItem[] = requests.map((request) => ({
      segments: [
        seg(request.status === "pending" ? "● pending  " : `  ${request.status.padEnd(9)}`, { fg: request.status === "pending" ? "yellow" : "grey", bold: request.status === "pending" }),
        seg(request.kind === "chat" ? "conversation " : `join #${request.group ?? "?"} `),
        seg(`from ${request.from}`, { bold: true }),
        seg(`  ${momentLabel(request.at)}`, { fg: "grey" }),
      ],
      ...(request.status === "pending" ? { run: () => this.askRequest(request) } : {}),
    }))
    this.pushPopup(new ListPopup(`Requests received (${items.length})`, items, "Enter on a pending one: answer · Esc close"))
  }

  /** /search: this conversation's messages containing the text, newest first, in a popup. */
  private async search(query: string): Promise<void> {
    const target = this.buffers.get(this.activeKey)?.target ?? null
    if (target === null) return this.note(this.activeKey, "open a conversation or a group first: /search looks in its history", "error")
    const result = await this.port.search(chatTargetOf(target), query, SEARCH_RESULTS)
    if ("error" in result) return this.note(this.activeKey, result.error, "error")
    const items: ListItem[] = result.matches.map((message) => ({
      segments: [
        seg(`${momentLabel(message.at)}  `, { fg: "grey" }),
        seg(`<${message.from}> `, { fg: message.mine ? "green" : "cyan" }),
        seg(message.text.replace(/\s+/g, " ").slice(0, 300)),
      ],
    }))
    const scope = result.complete ? `all ${result.searched} messages` : `the newest ${result.searched} messages`
    if (items.length === 0) items.push(this.heading(`no message contains "${query}" (searched ${scope})`))
    this.pushPopup(new ListPopup(`Search "${query.slice(0, 40)}": ${result.matches.length} found in ${scope}`, items, "↑↓ PgUp PgDn scroll · Esc close"))
  }

  private showAcceptances(): void {
    const items: ListItem[] = [...this.snapshot.acceptances].reverse().map((entry) => ({
      segments: [
        seg(entry.kind === "chat" ? `conversation with ${entry.peer}` : `#${entry.group ?? "?"} ${entry.by === "me" ? `← ${entry.peer}` : `by ${entry.peer}`}`, { bold: true }),
        seg(`  topic ${entry.topic}`, { fg: "cyan" }),
        seg(`  accepted by ${entry.by === "me" ? "you" : entry.peer}`, { fg: "grey" }),
        seg(`  ${momentLabel(entry.at)}`, { fg: "grey" }),
      ],
      run: () => this.open(entry.kind === "chat" || entry.group === null ? { kind: "peer", user: entry.peer } : { kind: "group", group: entry.group }),
    }))
    this.pushPopup(new ListPopup(`Acceptances (${items.length}) — with the topic each opened`, items, "Enter: open · Esc close"))
  }

  private showHelp(topic: string | null): void {
    const commands = topic === null ? COMMANDS : COMMANDS.filter((c) => c.name === topic || c.aliases.includes(topic))
    const items: ListItem[] = [this.heading(`Commands (your id: ${this.me}; ids may be typed as digits: /talk 12345)`)]
    for (const command of commands) items.push({ segments: [seg(command.usage.padEnd(52), { fg: "cyan" }), seg(command.summary)] })
    if (topic === null) {
      items.push(this.heading(""), this.heading("Keys"))
      for (const key of keyHelpLines()) items.push({ segments: [seg(key.label.padEnd(22), { fg: "yellow" }), seg(key.help)] })
      items.push(this.heading(""), this.heading("Side list: ● online ○ offline · … waiting · ★ you lead · × closed · N unread · ? request"))
      items.push(this.heading("Mouse: the wheel scrolls (and pages older messages in), a click in the side list opens; Shift+drag selects text"))
    }
    this.pushPopup(new ListPopup(topic === null ? "Help" : `Help: /${topic}`, items, "↑↓ PgUp PgDn scroll · Esc close"))
  }

  // --- keys

  private onRawInput(data: Buffer | string): void {
    if (this.closed) return
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
      // Bounded: beyond what one message may hold, the paste is cut (and the typist told).
      if (this.pasted.length < MAX_TEXT_CHARS * 2) this.pasted += piece.slice(0, MAX_TEXT_CHARS * 2 - this.pasted.length)
      if (end < 0) break
      this.pasting = false
      this.finishPaste()
      rest = rest.slice(end + PASTE_END.length)
    }
    this.requestRender()
  }

  private finishPaste(): void {
    const text = cleanPastedText(this.pasted)
    this.pasted = ""
    const top = this.popups[this.popups.length - 1]
    if (top?.paste !== undefined) return top.paste(text)
    if (!this.insertText(text)) this.hint = `paste too long: a message holds at most ${MAX_TEXT_CHARS} characters`
  }

  private insertText(text: string): boolean {
    if (text.length === 0) return true
    const fits = this.editor.insert(text)
    if (!fits) this.hint = `a message holds at most ${MAX_TEXT_CHARS} characters`
    return fits
  }

  private onKey(ch: string | undefined, key: KeyEvent | undefined): void {
    if (this.closed || this.swallowKeys) return
    const top = this.popups[this.popups.length - 1]
    if (top !== undefined) {
      const intent = intentOf(ch, key)
      if (intent._tag === "quit" && key?.full === "C-q") return this.options.requestQuit()
      // Ctrl-L redraws whatever is open.
      if (intent._tag === "redraw") return this.dispatch(intent)
      if (key?.full === "return") return
      const result = top.handleKey(ch, key)
      if (result === "unhandled") {
        this.dispatch(intentOf(ch, key))
        return
      }
      if (result === "close") {
        const index = this.popups.indexOf(top)
        if (index >= 0) this.popups.splice(index, 1)
        if (top instanceof QuestionPopup) this.requestPopup = null
        if (top === this.requestSummary) this.requestSummary = null
        if (this.popups.length === 0) this.offerNextRequest()
      }
      this.requestRender()
      return
    }
    this.hint = null
    if (this.options.interceptKey?.(ch, key) === true) return this.requestRender()
    this.dispatch(intentOf(ch, key))
  }

  private dispatch(intent: UiIntent): void {
    switch (intent._tag) {
      case "ignore":
        return
      case "submit":
        this.submit()
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
        this.showMenu()
        break
      case "menuItem":
        this.runMenuItem(intent.item)
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
        const key = this.order[intent.number - 1]
        if (key !== undefined) this.activate(key)
        break
      }
      case "scroll":
        this.scroll(intent.amount)
        break
      case "redraw":
        this.screen.realloc()
        break
      case "quit":
        this.options.requestQuit()
        return
    }
    this.requestRender()
  }

  private edit(operation: EditOperation): void {
    switch (operation) {
      case "backspace":
        return this.editor.backspace()
      case "delete":
        return this.editor.deleteForward()
      case "left":
        return this.editor.left()
      case "right":
        return this.editor.right()
      case "home":
        return this.editor.home()
      case "end":
        return this.editor.end()
      case "wordLeft":
        return this.editor.wordLeft()
      case "wordRight":
        return this.editor.wordRight()
      case "deleteWordBack":
        return this.editor.deleteWordBack()
      case "killToStart":
        return this.editor.killToStart()
      case "killToEnd":
        return this.editor.killToEnd()
      case "yank":
        if (!this.editor.yank()) this.hint = `a message holds at most ${MAX_TEXT_CHARS} characters`
        return
      case "historyPrevious":
        return this.editor.historyPrevious()
      case "historyNext":
        return this.editor.historyNext()
    }
  }

  private complete(): void {
    const { word, atLineStart } = this.editor.wordBeforeCursor()
    const candidates = [
      ...this.snapshot.users.map((u) => u.user as string),
      ...this.snapshot.groups.map((g) => `#${g.name}`),
      ...(atLineStart ? [] : ["status"]),
    ]
    const matches = completeWord(word, atLineStart, candidates)
    if (matches.length === 0) {
      this.hint = "no completion"
      return
    }
    if (matches.length === 1) {
      this.editor.replaceWordBeforeCursor(`${matches[0]} `)
      return
    }
    // Several: complete the common prefix and list the choices.
    let prefix = matches[0] ?? ""
    for (const match of matches) while (!match.startsWith(prefix)) prefix = prefix.slice(0, -1)
    if (prefix.length > word.length) this.editor.replaceWordBeforeCursor(prefix)
    this.hint = matches.slice(0, 12).join("  ") + (matches.length > 12 ? `  … ${matches.length - 12} more` : "")
  }

  private cycle(step: number): void {
    const index = this.order.indexOf(this.activeKey)
    const next = this.order[(index + step + this.order.length) % this.order.length]
    if (next !== undefined) this.activate(next)
  }

  /** The next buffer (after this one, wrapping) with unread messages or a waiting request. */
  private nextActivity(): void {
    const start = this.order.indexOf(this.activeKey)
    for (let offset = 1; offset <= this.order.length; offset++) {
      const key = this.order[(start + offset) % this.order.length]
      const buffer = key === undefined ? undefined : this.buffers.get(key)
      if (buffer === undefined || key === this.activeKey) continue
      if (this.unreadOf(buffer) > 0 || this.requestsOfBuffer(buffer).length > 0) return this.activate(buffer.key)
    }
    const waiting = this.pendingRequests()[0]
    if (waiting !== undefined) return this.askRequest(waiting)
    this.hint = "no activity elsewhere"
  }

  private scroll(amount: ScrollAmount | "wheelUp" | "wheelDown"): void {
    const pane = this.layout.pane
    const buffer = this.buffers.get(this.activeKey)
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
    if (buffer !== undefined && (pane.atTop || wasAtTop) && (amount === "pageUp" || amount === "wheelUp" || amount === "lineUp" || amount === "top")) void this.loadOlder(buffer)
    this.requestRender()
  }

  private onSidebarClick(mouse: Widgets.Events.IMouseEventArg): void {
    const row = mouse.y - (this.layout.sidebar.atop as number)
    const target = this.sidebarTargets[row]
    if (target === undefined || target === null) return
    if (target === "requests") return this.showRequests()
    if (target === "users") return this.showUsers()
    if (this.buffers.has(target)) return this.activate(target)
    if (target.startsWith("@")) return this.open({ kind: "peer", user: target.slice(1) })
    if (target.startsWith("#")) return this.open({ kind: "group", group: target.slice(1) })
  }

  // --- drawing

  private requestRender(): void {
    if (this.renderPending || this.closed) return
    this.renderPending = true
    setImmediate(() => {
      this.renderPending = false
      this.render()
    })
  }

  private bufferSummaries(): ReadonlyArray<BufferSummary> {
    return this.order.map((key, index) => {
      const buffer = this.buffers.get(key)
      const target = buffer?.target ?? null
      const user = target?.kind === "peer" ? this.userListing(target.user) : null
      const group = target?.kind === "group" ? this.groupListing(target.group) : null
      return {
        key,
        number: index + 1,
        label: key,
        unread: buffer === undefined ? 0 : this.unreadOf(buffer),
        requestPending: buffer === undefined ? false : this.requestsOfBuffer(buffer).length > 0,
        kind: target === null ? "status" : target.kind,
        presence: target?.kind === "peer" ? user?.status ?? "unknown" : null,
        conversation: target?.kind === "peer" ? user?.conversation ?? "idle" : null,
        membership: target?.kind === "group" ? group?.me ?? "absent" : null,
      }
    })
  }

  /** What the prompt says about the target when typing there will not (yet) reach anyone. */
  private targetState(buffer: ChatBuffer): string | null {
    const target = buffer.target
    if (target === null) return "commands only"
    if (target.kind === "peer") return conversationWord(this.userListing(target.user)?.conversation ?? "idle")
    const me = this.groupListing(target.group)?.me ?? "absent"
    return me === "leading" ? null : membershipWord(me)
  }

  private render(): void {
    if (this.closed) return
    const { layout } = this
    const width = this.screen.width as number
    const height = this.screen.height as number
    const active = this.buffers.get(this.activeKey) ?? this.buffers.get(STATUS_KEY)
    if (active === undefined) return
    if (active.key === this.activeKey) this.markRead(active)

    const sidebarWidth = layout.sidebarWidth()
    if (sidebarWidth > 0) {
      const rows = Math.max(0, height - 2)
      const view = renderSidebar(
        { buffers: this.bufferSummaries(), activeKey: this.activeKey, users: this.snapshot.users, groups: this.snapshot.groups, pendingRequests: this.pendingRequests().length },
        sidebarWidth - 1,
        rows,
      )
      this.sidebarTargets = view.targets
      const divider = "{grey-fg}│{/grey-fg}"
      const lines = Array.from({ length: rows }, (_, i) => `${view.lines[i] ?? " ".repeat(sidebarWidth - 1)}${divider}`)
      layout.sidebar.setContent(lines.join("\n"))
    }

    const target = active.target
    const paneWidth = width - sidebarWidth
    layout.pane.show(`${active.key}:${active.version}`, () => renderTimeline(active, this.me), { resetScroll: this.switchedBuffer })
    this.switchedBuffer = false
    layout.title.setContent(
      renderTitle(
        {
          kind: target === null ? "status" : target.kind,
          label: active.key,
          me: this.me,
          user: target?.kind === "peer" ? this.userListing(target.user) : null,
          group: target?.kind === "group" ? this.groupListing(target.group) : null,
          topic: target === null ? null : this.topicOf(target),
          linesBelow: layout.pane.isFollowing ? 0 : layout.pane.rowsBelow,
        },
        paneWidth,
      ),
    )
    const pending = this.pendingRequests().length
    layout.status.setContent(
      renderStatusBar({ me: this.me, broker: this.options.brokerLabel(), connection: this.connection, target: active.key, pendingRequests: pending, problems: this.problems, hint: this.hint }, width),
    )
    const prompt = promptText(active.key, this.targetState(active))
    const view = this.editor.view(Math.max(4, width - prompt.length - 1))
    layout.input.setContent(`{bold}${escapeTags(prompt)}{/bold}${escapeTags(view.text)}`)
    this.cursorColumn = prompt.length + view.cursorColumn
    this.drawPopup(width, height)
    this.screen.render()
  }

  private drawPopup(width: number, height: number): void {
    const popup = this.layout.popup
    const top = this.popups[this.popups.length - 1]
    if (top === undefined) {
      popup.hide()
      this.popupCursor = null
      return
    }
    const boxWidth = Math.max(20, Math.min(width - 4, 96))
    const innerWidth = boxWidth - 2
    const maxInner = Math.max(3, height - 6)
    const frame = top.frame(innerWidth, maxInner - 2)
    const bodyRows = Math.min(maxInner - 2, frame.lines.length)
    const boxHeight = bodyRows + 4
    popup.width = boxWidth
    popup.height = boxHeight
    popup.setLabel(` ${escapeTags(frame.title)} `)
    const body = [...frame.lines.slice(0, bodyRows), styledLine([], innerWidth), styledLine([seg(frame.footer, { fg: "grey" })], innerWidth)]
    popup.setContent(body.join("\n"))
    popup.show()
    popup.setFront()
    this.popupCursor = frame.cursor === null ? null : { row: (popup.atop as number) + 1 + frame.cursor.row, column: (popup.aleft as number) + 1 + frame.cursor.column }
  }

  /** The terminal cursor sits where typing goes: the input line, or a popup's prompt. */
  private placeCursor(): void {
    const program = this.screen.program
    const height = this.screen.height as number
    if (this.popups.length > 0 && this.popupCursor === null) {
      program.hideCursor()
      return
    }
    const position = this.popupCursor ?? { row: height - 1, column: this.cursorColumn }
    program.cup(position.row, Math.min(position.column, (this.screen.width as number) - 1))
    program.showCursor()
  }
}

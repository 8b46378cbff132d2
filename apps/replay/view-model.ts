/**
 * The model behind `replay view`: a log held in memory, a position in it (the state after record N),
 * and the chat's `ChatPort` answered from the state at that position — read-only, so the real chat
 * screen (adapters/tui) shows what the user saw then. No blessed here: tests drive it directly.
 *
 * Moving forward folds the records in between; moving back restores the nearest checkpoint (a copy
 * of the state taken every `interval` records) and folds from there, so any jump costs at most one
 * interval of folding. The seen-set of each state is kept small (the view never shows it, and a
 * checkpoint copies it); everything shown is folded exactly as the chat folds it.
 */
import { Outbox, SeenIds, type ChatState } from "../../domain/chat/chat-state.ts"
import { targetTopic, type ChatTarget } from "../../domain/chat/decide.ts"
import type { LogRecord } from "../../domain/events.ts"
import type { UserId } from "../../domain/ids.ts"
import { messageOf, type ChatMessage, type ChatNotice } from "../../domain/service/chat-service.ts"
import type { ActionOutcome, ChatPort, ChatSnapshot, ConnectionState, HistoryResult, SearchResult } from "../../adapters/tui/chat-port.ts"
import { groupListings, userListings, ViewFold } from "../shared/domain-view.ts"
import { describeEvent } from "./describe.ts"

/** Records a view holds in memory: about 0.5 KB each. */
export const MAX_VIEW_RECORDS = 1_000_000
/** Checkpoints kept at most: a jump folds at most records / this many records. */
const MAX_CHECKPOINTS = 40
const MIN_CHECKPOINT_INTERVAL = 2_000
/** Envelope ids a viewed state remembers as seen (the chat keeps 100,000; the view never shows them). */
const VIEW_SEEN_IDS = 64
/** Records a search looks through before it gives up. */
export const MAX_SEARCH_RECORDS = 1_000_000

const copyFold = (fold: ViewFold): ViewFold => {
  const seen = new SeenIds(VIEW_SEEN_IDS)
  for (const id of fold.state.seen.toJSON()) seen.add(id)
  const outbox = new Outbox()
  for (const out of fold.state.outbox.values()) outbox.add(out)
  return new ViewFold({ ...fold.state, seen, outbox }, fold.unread, fold.lastAt)
}

const emptyFold = (): ViewFold => {
  const fold = new ViewFold()
  fold.state = { ...fold.state, seen: new SeenIds(VIEW_SEEN_IDS) }
  return fold
}

const isMessage = (record: LogRecord): boolean => record.event._tag === "message.sent" || record.event._tag === "message.received"

export class ReplaySession {
  readonly owner: string
  private readonly interval: number
  /** checkpoints[k]: the fold after k · interval records. */
  private readonly checkpoints: Array<ViewFold> = []
  /** Per topic: indexes (into records) of its shown messages, in order. */
  private readonly messagesByTopic = new Map<string, Array<number>>()
  private current: ViewFold
  /** Records folded into `current`: the view is "at" records[position - 1]. */
  private folded = 0

  constructor(readonly records: ReadonlyArray<LogRecord>) {
    if (records.length > MAX_VIEW_RECORDS) throw new Error(`the view holds at most ${MAX_VIEW_RECORDS} records; this log has ${records.length} (use state --at, timeline --since)`)
    const first = records[0]?.event
    this.owner = first?._tag === "profile.created" ? first.user : "(unknown user)"
    this.interval = Math.max(MIN_CHECKPOINT_INTERVAL, Math.ceil(records.length / MAX_CHECKPOINTS))
    records.forEach((record, index) => {
      if (!isMessage(record)) return
      const topic = (record.event as { topic: string }).topic
      const list = this.messagesByTopic.get(topic)
      if (list === undefined) this.messagesByTopic.set(topic, [index])
      else list.push(index)
    })
    this.current = emptyFold()
    this.checkpoints.push(copyFold(this.current))
  }

  get position(): number {
    return this.folded
  }

  get state(): ChatState {
    return this.current.state
  }

  get fold(): ViewFold {
    return this.current
  }

  /** The record the view is at (the last one folded), if any. */
  get record(): LogRecord | undefined {
    return this.records[this.folded - 1]
  }

  /**
   * Moves to the state after `position` records (clamped to the log). Returns the records folded
   * on the way when it moved forward from where it was, or null when it had to start from a
   * checkpoint (backward, or far ahead): the screen is rebuilt then.
   */
  moveTo(position: number): ReadonlyArray<LogRecord> | null {
    const target = Math.max(0, Math.min(this.records.length, position))
    if (target >= this.folded && target - this.folded <= this.interval) {
      const stepped = this.records.slice(this.folded, target)
      this.foldUpTo(target)
      return stepped
    }
    const k = Math.min(this.checkpoints.length - 1, Math.floor(target / this.interval))
    this.current = copyFold(this.checkpoints[k]!)
    this.folded = k * this.interval
    this.foldUpTo(target)
    return null
  }

  private foldUpTo(target: number): void {
    // Each turn folds one record: at most records.length turns.
    while (this.folded < target) {
      this.current.apply(this.records[this.folded]!)
      this.folded += 1
      if (this.folded % this.interval === 0 && this.checkpoints.length === this.folded / this.interval) this.checkpoints.push(copyFold(this.current))
    }
  }

  /** The position of the record with this seq, or of the last one before it. */
  positionOfSeq(seq: number): number {
    let low = 0
    let high = this.records.length
    // Binary search: at most log2(records) turns.
    while (low < high) {
      const mid = (low + high) >> 1
      if (this.records[mid]!.seq <= seq) low = mid + 1
      else high = mid
    }
    return low
  }

  /** The position of the last record at or before `ms` (records are nearly in time order: the first later one ends it). */
  positionOfTime(ms: number): number {
    const index = this.records.findIndex((record) => record.at > ms)
    return index < 0 ? this.records.length : index
  }

  /** The position of the next (or previous) chat message after the current record, if any. */
  nextMessage(direction: 1 | -1): number | undefined {
    // Each turn looks at one record: bounded by the log.
    for (let index = this.folded - 1 + direction; index >= 0 && index < this.records.length; index += direction) {
      if (isMessage(this.records[index]!)) return index + 1
    }
    return undefined
  }

  /** The position of the next record (after the current one, wrapping) whose summary contains `text`. */
  search(text: string): number | undefined {
    const needle = text.toLowerCase()
    const count = Math.min(this.records.length, MAX_SEARCH_RECORDS)
    for (let step = 1; step <= count; step++) {
      const index = (this.folded - 1 + step) % this.records.length
      const record = this.records[index]!
      if (`${record.event._tag} ${describeEvent(record.event)}`.toLowerCase().includes(needle)) return index + 1
    }
    return undefined
  }

  /** Messages of `topic` shown by the current record, oldest first: the `beforeSeq`/`limit` page. */
  messages(topic: string, page: { readonly beforeSeq?: number; readonly limit: number }): HistoryResult {
    const all = this.messagesByTopic.get(topic) ?? []
    const lastSeq = this.record?.seq ?? 0
    const bound = Math.min(lastSeq + 1, page.beforeSeq ?? Infinity)
    let end = 0
    // Binary search for the first message at or past the bound.
    for (let high = all.length; end < high;) {
      const mid = (end + high) >> 1
      if (this.records[all[mid]!]!.seq < bound) end = mid + 1
      else high = mid
    }
    const start = Math.max(0, end - page.limit)
    const me = this.owner as UserId
    const messages = all.slice(start, end).map((index) => messageOf(this.records[index]!, me)).filter((m): m is ChatMessage => m !== null)
    return { messages, hasMore: start > 0 }
  }
}

/**
 * The chat's port over a replay: everything reads the state at the session's position; nothing can
 * be done (each action answers that this is a replay). `changed()` tells the screen to look again.
 */
export class ReadOnlyChatPort implements ChatPort {
  readonly me: string
  private readonly listeners = new Set<(notice: ChatNotice) => void>()
  private shown = 0

  constructor(private readonly session: ReplaySession) {
    this.me = session.owner
  }

  /** The position the screen last read (its body shows that state): the status bar says the same. */
  get shownPosition(): number {
    return this.shown
  }

  /** Called when the screen reads a state it has not shown yet. */
  onNewSnapshot: (() => void) | null = null

  snapshot(): ChatSnapshot {
    const moved = this.shown !== this.session.position
    this.shown = this.session.position
    if (moved) this.onNewSnapshot?.()
    const state = this.session.state
    return {
      users: userListings(state),
      groups: groupListings(state),
      requests: state.requests,
      acceptances: state.acceptances,
      topics: state.topics,
      outcomes: Object.fromEntries([...state.conversations.entries()].map(([peer, snapshot]) => [peer, snapshot.context.lastOutcome])),
      lastSeq: state.lastSeq,
      keyChanges: Object.keys(state.trust.keyChanges),
      closed: new Set(state.dismissed.keys()),
      // The replay shows what was stored; delivery marks follow the outbox at that point.
      unsent: new Set(state.outbox.values().map((out) => out.envelope.id)),
    }
  }

  connection(): ConnectionState {
    const state = this.session.state
    return state.online ? { _tag: "connected", connection: state.session } : { _tag: "closed" }
  }

  perform(): Promise<ActionOutcome> {
    return Promise.resolve({ ok: false, error: `read-only: this is ${this.me}'s log at seq ${this.session.record?.seq ?? 0}, replayed; nothing is sent` })
  }

  history(target: ChatTarget, page: { readonly beforeSeq?: number; readonly limit: number }): Promise<HistoryResult> {
    return Promise.resolve(this.session.messages(targetTopic(this.me as UserId, target), page))
  }

  search(target: ChatTarget, query: string, limit: number): Promise<SearchResult> {
    const needle = query.trim().toLowerCase()
    const all = this.session.messages(targetTopic(this.me as UserId, target), { limit: MAX_SEARCH_RECORDS }).messages
    const matches = [...all].reverse().filter((m) => m.text.toLowerCase().includes(needle)).slice(0, limit)
    return Promise.resolve({ matches, searched: all.length, complete: true })
  }

  whois(): Promise<{ readonly error: string }> {
    return Promise.resolve({ error: "/whois needs the profile's identity: not available in a replay (state shows which keys are pinned)" })
  }

  subscribe(listener: (notice: ChatNotice) => void): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  /** The session moved: the screen reads the snapshot again. */
  changed(): void {
    for (const listener of this.listeners) listener({ _tag: "changed" })
  }

  shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

/**
 * One buffer of the UI (WeeChat's word): the status buffer, a one-to-one conversation or a group.
 * It holds the slice of the conversation's history that was loaded (newest first, older pages on
 * demand) and the notes the UI wrote into it ("user-1 went offline"). Bounded: at most
 * MAX_LOADED_MESSAGES messages and MAX_NOTES notes; the log keeps everything.
 */
import type { ChatMessage } from "./chat-port.ts"
import type { BufferTarget } from "./commands.ts"

export const MAX_LOADED_MESSAGES = 5_000
export const MAX_NOTES = 500

export type NoteLevel = "info" | "event" | "error"

export interface Note {
  readonly at: number
  readonly text: string
  readonly level: NoteLevel
  /** The log's last sequence number when the note was written: it sorts among the messages by it. */
  readonly anchorSeq: number
}

export const STATUS_KEY = "status"

export const bufferKeyOf = (target: BufferTarget): string => (target.kind === "peer" ? `@${target.user}` : `#${target.group}`)

export class ChatBuffer {
  /** Oldest first, by sequence number. */
  private loadedMessages: ChatMessage[] = []
  private readonly loadedSeqs = new Set<number>()
  private readonly bufferNotes: Note[] = []
  /** The initial page was read from the log. */
  loaded = false
  /** A read is in flight: no second one starts. */
  loading = false
  /** Older messages exist in the log before the oldest loaded one. */
  hasOlder = false
  /** Bumped on every change: the renderer caches by it. */
  version = 0
  /** The conversation's message count in the log when the newest page was last read. */
  knownTotal = 0

  constructor(
    readonly key: string,
    /** null for the status buffer. */
    readonly target: BufferTarget | null,
    /** Messages up to this sequence number were in the log when the app started: "earlier". */
    readonly restoredUpToSeq: number,
  ) {}

  get messages(): ReadonlyArray<ChatMessage> {
    return this.loadedMessages
  }

  get notes(): ReadonlyArray<Note> {
    return this.bufferNotes
  }

  get oldestSeq(): number | undefined {
    return this.loadedMessages[0]?.seq
  }

  get newestSeq(): number {
    return this.loadedMessages[this.loadedMessages.length - 1]?.seq ?? 0
  }

  addNote(note: Note): void {
    this.bufferNotes.push(note)
    if (this.bufferNotes.length > MAX_NOTES) this.bufferNotes.splice(0, this.bufferNotes.length - MAX_NOTES)
    this.version += 1
  }

  /**
   * Merges a page read from the log (duplicates by sequence number are skipped). `older` pages
   * set `hasOlder` from the log's answer; a newest page keeps what an earlier older page learned,
   * unless nothing was loaded before.
   */
  mergePage(messages: ReadonlyArray<ChatMessage>, hasMore: boolean, older: boolean): void {
    const fresh = messages.filter((m) => !this.loadedSeqs.has(m.seq))
    const wasEmpty = this.loadedMessages.length === 0
    for (const m of fresh) this.loadedSeqs.add(m.seq)
    this.loadedMessages = [...this.loadedMessages, ...fresh].sort((a, b) => a.seq - b.seq)
    if (older || wasEmpty || !this.loaded) this.hasOlder = hasMore
    this.loaded = true
    this.enforceBound()
    this.version += 1
  }

  /** A newest page that does not reach what is loaded leaves a hole: start over from it. */
  replaceWith(messages: ReadonlyArray<ChatMessage>, hasMore: boolean): void {
    this.loadedMessages = []
    this.loadedSeqs.clear()
    this.loaded = false
    this.mergePage(messages, hasMore, false)
  }

  /** Room for an older page; 0 means paging back stops here (the log still has the rest). */
  get roomForOlder(): number {
    return Math.max(0, MAX_LOADED_MESSAGES - this.loadedMessages.length)
  }

  /** Live traffic past the bound pushes the oldest loaded messages out. */
  private enforceBound(): void {
    const excess = this.loadedMessages.length - MAX_LOADED_MESSAGES
    if (excess <= 0) return
    const dropped = this.loadedMessages.splice(0, excess)
    for (const m of dropped) this.loadedSeqs.delete(m.seq)
    this.hasOlder = true
  }
}

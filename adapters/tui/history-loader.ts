/**
 * Reading a buffer's messages from the log: the newest page when a buffer opens, what arrived since
 * (catching up), and older pages when scrolling reaches the top. The buffer holds what was read.
 */
import { MAX_LOADED_MESSAGES, type ChatBuffer } from "./chat-buffer.ts"
import { chatTargetOf } from "./chat-port.ts"
import type { TuiHost } from "./tui-host.ts"

const MIN_PAGE_MESSAGES = 50
/** Messages read at most when catching a buffer up; more missed than that, and it starts over from the newest page. */
const MAX_CATCH_UP_MESSAGES = 2_000
/** Messages read per page when paging back to a /search hit. */
const JUMP_PAGE_MESSAGES = 1_000

export class HistoryLoader {
  private readonly loadingNewest = new Set<string>()

  constructor(
    private readonly host: TuiHost,
    private readonly markRead: (buffer: ChatBuffer) => void,
  ) {}

  private pageSize(): number {
    return Math.max(MIN_PAGE_MESSAGES, this.host.layout.pane.height * 2)
  }

  /**
   * Loads the newest page when the buffer is new, or what the log has past what is shown. The read
   * asks for enough to reach back to the newest loaded message; if it still does not (a flood, or
   * more missed than MAX_CATCH_UP_MESSAGES), the buffer starts over from the newest page.
   */
  async catchUp(buffer: ChatBuffer): Promise<void> {
    const target = buffer.target
    if (target === null || this.loadingNewest.has(buffer.key)) return
    const topic = this.host.topicOf(target)
    if (topic === null) return
    const summary = this.host.snapshot.topics.get(topic)
    if (buffer.loaded && (summary?.lastSeq ?? 0) <= buffer.newestSeq) return
    const total = summary?.messages ?? 0
    const missed = Math.max(0, total - buffer.knownTotal)
    const limit = buffer.loaded ? Math.min(MAX_CATCH_UP_MESSAGES, this.pageSize() + missed) : this.pageSize()
    this.loadingNewest.add(buffer.key)
    try {
      const result = await this.host.port.history(chatTargetOf(target), { limit })
      if ("error" in result) {
        this.host.note(buffer.key, `could not read the history: ${result.error}`, "error")
        buffer.loaded = true
        buffer.version += 1
        return
      }
      const first = result.messages[0]
      const reachesLoaded = buffer.messages.length === 0 || first === undefined || !result.hasMore || first.seq <= buffer.newestSeq
      if (reachesLoaded) buffer.mergePage(result.messages, result.hasMore, false)
      else buffer.replaceWith(result.messages, result.hasMore)
      buffer.knownTotal = total
      if (buffer.key === this.host.activeKey) this.markRead(buffer)
    } finally {
      this.loadingNewest.delete(buffer.key)
      this.host.requestRender()
    }
    // Messages may have arrived while reading: one more look (it returns at once when caught up).
    const latest = this.host.snapshot.topics.get(topic)?.lastSeq ?? 0
    if (latest > buffer.newestSeq && buffer.key === this.host.activeKey) this.host.scheduleRefresh()
  }

  async loadOlder(buffer: ChatBuffer): Promise<void> {
    const target = buffer.target
    const before = buffer.oldestSeq
    if (target === null || before === undefined || !buffer.loaded || buffer.loading || !buffer.hasOlder || buffer.roomForOlder === 0) return
    buffer.loading = true
    buffer.version += 1
    this.host.requestRender()
    try {
      const result = await this.host.port.history(chatTargetOf(target), { beforeSeq: before, limit: Math.min(buffer.roomForOlder, this.pageSize()) })
      if ("error" in result) this.host.note(buffer.key, `could not read older messages: ${result.error}`, "error")
      else buffer.mergePage(result.messages, result.hasMore, true)
    } finally {
      buffer.loading = false
      buffer.version += 1
      this.host.requestRender()
    }
  }

  /**
   * Pages older messages in until message `seq` is loaded (a /search hit). true when it is; else
   * why not, in words. Bounded: each read adds a page, within the buffer's MAX_LOADED_MESSAGES.
   */
  async loadBackTo(buffer: ChatBuffer, seq: number): Promise<true | string> {
    const target = buffer.target
    if (target === null) return "the status buffer has no messages"
    if (!buffer.loaded) await this.catchUp(buffer)
    // Each pass loads at least one message or stops: at most MAX_LOADED_MESSAGES passes.
    for (let pass = 0; pass <= MAX_LOADED_MESSAGES; pass++) {
      if (buffer.messages.some((m) => m.seq === seq)) return true
      const before = buffer.oldestSeq
      if (!buffer.loaded || buffer.loading) return "the history is still loading: try again in a moment"
      if (before === undefined || before < seq || !buffer.hasOlder) return "that message is no longer in this conversation's history"
      if (buffer.roomForOlder === 0) return `that message is older than the ${MAX_LOADED_MESSAGES} messages a buffer shows: it stays in the log`
      buffer.loading = true
      try {
        const result = await this.host.port.history(chatTargetOf(target), { beforeSeq: before, limit: Math.min(buffer.roomForOlder, JUMP_PAGE_MESSAGES) })
        if ("error" in result) return `could not read older messages: ${result.error}`
        buffer.mergePage(result.messages, result.hasMore, true)
        if (result.messages.length === 0) return "that message is no longer in this conversation's history"
      } finally {
        buffer.loading = false
        buffer.version += 1
      }
    }
    return "that message could not be reached"
  }
}

/**
 * The buffers of the side list, in its order (status, conversations, groups): which exist follows
 * the service's snapshot — every conversation and group with a state or a history has one — except
 * those closed with /close, which a history alone does not bring back.
 */
import { parseTopic, type UserId } from "../../domain/ids.ts"
import { bufferKeyOf, ChatBuffer, STATUS_KEY } from "./chat-buffer.ts"
import type { ChatSnapshot } from "./chat-port.ts"
import type { BufferTarget } from "./commands.ts"

const MAX_CLOSED_KEYS = 1_000

export class BufferList {
  private readonly buffers = new Map<string, ChatBuffer>()
  private keys: string[] = [STATUS_KEY]
  /** Buffers closed that only a history would bring back: groups left (saved across runs), conversations (the log keeps those). */
  private readonly closedKeys = new Set<string>()

  constructor(
    private readonly me: string,
    /** The log's last sequence number at start: what is at or below it was "earlier". */
    private readonly startSeq: number,
    /** Groups closed in an earlier run (saved in the UI state): still out of the list. */
    closedGroups: Iterable<string> = [],
  ) {
    this.buffers.set(STATUS_KEY, new ChatBuffer(STATUS_KEY, null, startSeq))
    for (const group of closedGroups) if (this.closedKeys.size < MAX_CLOSED_KEYS) this.closedKeys.add(`#${group}`)
  }

  /** Closed groups to remember across a restart (conversations: the log keeps those). */
  closedGroups(): ReadonlyArray<string> {
    return [...this.closedKeys].filter((key) => key.startsWith("#")).map((key) => key.slice(1))
  }

  get order(): ReadonlyArray<string> {
    return this.keys
  }

  get(key: string): ChatBuffer | undefined {
    return this.buffers.get(key)
  }

  has(key: string): boolean {
    return this.buffers.has(key)
  }

  ensure(target: BufferTarget): ChatBuffer {
    const key = bufferKeyOf(target)
    const existing = this.buffers.get(key)
    if (existing !== undefined) return existing
    const buffer = new ChatBuffer(key, target, this.startSeq)
    this.buffers.set(key, buffer)
    this.sort()
    return buffer
  }

  /** Buffers for what the snapshot shows; `quiet` requests (summarised in a burst) get none yet. */
  sync(snapshot: ChatSnapshot, quiet: ReadonlySet<string>): void {
    const live = (target: BufferTarget) => {
      this.closedKeys.delete(bufferKeyOf(target))
      this.ensure(target)
    }
    for (const user of snapshot.users) {
      if (user.conversation === "incoming" && quiet.has(`@${user.user}`)) continue
      if (user.conversation !== "idle") live({ kind: "peer", user: user.user })
    }
    for (const group of snapshot.groups) if (group.me === "member" || group.me === "leading" || group.me === "joining") live({ kind: "group", group: group.name })
    // A history alone brings a buffer back, unless it was closed (/close).
    for (const topic of snapshot.topics.keys()) {
      const kind = parseTopic(topic)
      if (kind.kind === "groupTalk" && !this.closedKeys.has(`#${kind.group}`)) this.ensure({ kind: "group", group: kind.group })
      if (kind.kind === "talk") {
        const peer = kind.users[0] === this.me ? kind.users[1] : kind.users[0]
        if (kind.users.includes(this.me as UserId) && !snapshot.closed.has(peer) && !this.closedKeys.has(`@${peer}`)) this.ensure({ kind: "peer", user: peer })
      }
    }
  }

  /** /close: the buffer leaves the list; returns the key shown before it (the status buffer stays). */
  close(key: string): string | null {
    if (key === STATUS_KEY || !this.buffers.has(key)) return null
    const index = this.keys.indexOf(key)
    this.buffers.delete(key)
    this.closedKeys.delete(key)
    // The oldest closed is forgotten first (a Set keeps insertion order).
    if (this.closedKeys.size >= MAX_CLOSED_KEYS) this.closedKeys.delete(this.closedKeys.values().next().value ?? "")
    this.closedKeys.add(key)
    this.sort()
    return this.keys[Math.max(0, index - 1)] ?? STATUS_KEY
  }

  private sort(): void {
    const keys = [...this.buffers.keys()].filter((key) => key !== STATUS_KEY)
    const peers = keys.filter((key) => key.startsWith("@")).sort((a, b) => a.length - b.length || a.localeCompare(b))
    const groups = keys.filter((key) => key.startsWith("#")).sort((a, b) => a.localeCompare(b))
    this.keys = [STATUS_KEY, ...peers, ...groups]
  }
}

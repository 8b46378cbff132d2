/**
 * The decision loop's lanes: a flood from strangers must not stand between the user and the
 * people they talk with. Received messages are sorted on arrival (`laneOf`, from the topic and the
 * sender the payload claims — a hint, since the decision checks everything again):
 *
 *   peers      talk topics of my conversations and groups, control traffic from contacts,
 *              presence of contacts, information on groups I am in — with my own commands, in
 *              the service's queue, decided first;
 *   strangers  everything else (requests and join requests from new ids, the retained
 *              directories, junk) — a bounded lane, at most `perSender` waiting from one sender,
 *              taken a few per batch after the peers' work; what does not fit is dropped, counted.
 *
 * What a stranger's messages may STORE is budgeted too (`StoreBudget`: token buckets, in all and
 * per sender), so a flood that passes every check of the core still costs a bounded number of
 * records per second. Pure: time comes in as an argument.
 */
import { isContact, type ChatState } from "../chat/chat-state.ts"
import { parseTopic, type UserId } from "../ids.ts"

export interface StrangerLimits {
  /** Strangers' messages waiting to be decided; more are dropped. */
  readonly queued: number
  /** Of those, from one sender (as claimed). */
  readonly queuedPerSender: number
  /** Strangers' messages decided per batch, after the peers' work. */
  readonly perBatch: number
  /** Records strangers' messages may store: a burst, then so many per second, all strangers together… */
  readonly storedBurst: number
  readonly storedPerSecond: number
  /** …and one sender. */
  readonly senderBurst: number
  readonly senderPerSecond: number
}

export const defaultStrangerLimits: StrangerLimits = {
  queued: 2_000,
  queuedPerSender: 64,
  perBatch: 64,
  storedBurst: 1_000,
  storedPerSecond: 20,
  senderBurst: 32,
  senderPerSecond: 1,
}

/** Drop reasons of the lanes (they name no id, so they add up in the counts). */
export const LANE_DROPS = {
  full: "strangers' lane full",
  sender: "too many messages waiting from one stranger",
  stored: "strangers' messages over the budget of what they may store",
  senderStored: "one stranger's messages over the budget of what it may store",
} as const

export type Lane = { readonly lane: "peers" } | { readonly lane: "strangers"; readonly sender: string }

const PEERS: Lane = { lane: "peers" }
const HINT_SCAN_CHARS = 4096
/** `"from":"user-N"`, also escaped once (an envelope carried as a JSON string inside another). */
const FROM = /\\?"from\\?"\s*:\s*\\?"(user-[0-9]{1,12})\\?"/
const lenientUtf8 = new TextDecoder("utf-8", { fatal: false })

/**
 * The sender a payload claims (its first `"from"`), without decoding it: only for sorting into a
 * lane. A forged claim buys a place in the peers' lane, nothing more: the decision checks it.
 */
export const senderHint = (payload: Uint8Array): UserId | null => {
  const text = lenientUtf8.decode(payload.subarray(0, HINT_SCAN_CHARS))
  const found = FROM.exec(text)
  return found === null ? null : (found[1] as UserId)
}

/** Which lane a received message waits in. O(1) in the size of the state (plus the groups I am in). */
export const laneOf = (state: ChatState, me: UserId, topic: string, payload: Uint8Array): Lane => {
  const where = parseTopic(topic)
  switch (where.kind) {
    case "talk": {
      // Delivered only while subscribed: one of my conversations (it names both users).
      const other = where.users[0] === me ? where.users[1] : where.users[0]
      const view = state.conversations.get(other)?.value
      return view === "active" || view === "outgoing" ? PEERS : { lane: "strangers", sender: other }
    }
    case "presence":
      return where.user === me || isContact(state, where.user) ? PEERS : { lane: "strangers", sender: where.user }
    case "groupInfo": {
      if (state.index.joined.has(where.group)) return PEERS
      return { lane: "strangers", sender: senderHint(payload) ?? `#${where.group}` }
    }
    case "groupTalk":
    case "control":
    case "global":
    case "unknown": {
      const from = senderHint(payload)
      if (from === null) return { lane: "strangers", sender: `?${where.kind}` }
      if (from === me) return PEERS
      if (where.kind === "groupTalk") return state.groups.get(where.group)?.context.info?.members.includes(from) === true ? PEERS : { lane: "strangers", sender: from }
      return where.kind === "control" && isContact(state, from) ? PEERS : { lane: "strangers", sender: from }
    }
  }
}

/** The strangers' lane: FIFO, bounded in all and per sender, O(1) per offer and take. */
export class StrangerLane<J> {
  private readonly ring: Array<{ readonly sender: string; readonly job: J } | undefined>
  private head = 0
  private count = 0
  private readonly perSender = new Map<string, number>()

  constructor(private readonly limits: Pick<StrangerLimits, "queued" | "queuedPerSender">) {
    this.ring = new Array(Math.max(1, limits.queued))
  }

  get size(): number {
    return this.count
  }

  /** Queues `job`, or says why not (a LANE_DROPS reason). */
  offer(sender: string, job: J): string | null {
    if (this.count >= this.ring.length) return LANE_DROPS.full
    const waiting = this.perSender.get(sender) ?? 0
    if (waiting >= this.limits.queuedPerSender) return LANE_DROPS.sender
    this.perSender.set(sender, waiting + 1)
    this.ring[(this.head + this.count) % this.ring.length] = { sender, job }
    this.count += 1
    return null
  }

  /** Up to `max` jobs, oldest first. */
  take(max: number): Array<{ readonly sender: string; readonly job: J }> {
    const taken: Array<{ readonly sender: string; readonly job: J }> = []
    while (taken.length < max && this.count > 0) {
      const item = this.ring[this.head]!
      this.ring[this.head] = undefined
      this.head = (this.head + 1) % this.ring.length
      this.count -= 1
      const left = (this.perSender.get(item.sender) ?? 1) - 1
      if (left === 0) this.perSender.delete(item.sender)
      else this.perSender.set(item.sender, left)
      taken.push(item)
    }
    return taken
  }
}

interface Bucket {
  tokens: number
  at: number
}

/** Senders whose budget is remembered; the oldest is forgotten past this (it starts full again). */
const MAX_REMEMBERED_SENDERS = 4096

/** Token buckets on the records strangers' messages store: in all, and per sender. */
export class StoreBudget {
  private readonly total: Bucket
  private readonly senders = new Map<string, Bucket>()

  constructor(private readonly limits: Pick<StrangerLimits, "storedBurst" | "storedPerSecond" | "senderBurst" | "senderPerSecond">, now: number) {
    this.total = { tokens: limits.storedBurst, at: now }
  }

  private static refill(bucket: Bucket, burst: number, perSecond: number, now: number): void {
    const elapsed = Math.max(0, now - bucket.at)
    bucket.tokens = Math.min(burst, bucket.tokens + (elapsed * perSecond) / 1000)
    bucket.at = Math.max(bucket.at, now)
  }

  /** Takes one record's worth for `sender` at `now`, or says which budget is spent (a LANE_DROPS reason). */
  take(sender: string, now: number): string | null {
    StoreBudget.refill(this.total, this.limits.storedBurst, this.limits.storedPerSecond, now)
    let bucket = this.senders.get(sender)
    if (bucket === undefined) {
      bucket = { tokens: this.limits.senderBurst, at: now }
      if (this.senders.size >= MAX_REMEMBERED_SENDERS) {
        const oldest = this.senders.keys().next().value
        if (oldest !== undefined) this.senders.delete(oldest)
      }
    } else {
      this.senders.delete(sender)
      StoreBudget.refill(bucket, this.limits.senderBurst, this.limits.senderPerSecond, now)
    }
    // Most recently used last: the Map's order is the forgetting order.
    this.senders.set(sender, bucket)
    if (bucket.tokens < 1) return LANE_DROPS.senderStored
    if (this.total.tokens < 1) return LANE_DROPS.stored
    bucket.tokens -= 1
    this.total.tokens -= 1
    return null
  }
}

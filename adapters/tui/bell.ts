/**
 * The terminal bell (BEL): rung when a message or a request arrives where I am not looking — a
 * buffer not on screen, or any buffer while the terminal is not focused (when it reports focus) —
 * so tmux and screen flag the window and desktop terminals mark it urgent. Never for my own messages (they are counted as
 * sent) nor for drops (they change nothing in the snapshot), and at most once per
 * BELL_MIN_INTERVAL_MS: a flood rings once, then again only after a quiet stretch of the gate.
 * Pure: the controller (chat-tui.ts) compares snapshots and writes the BEL.
 */
import { parseTopic } from "../../domain/ids.ts"
import type { ChatSnapshot } from "./chat-port.ts"

/** Two rings are at least this far apart, however much arrives. */
export const BELL_MIN_INTERVAL_MS = 5_000

/** Something worth a bell, in the buffer it belongs to ("@user-1", "#team"). */
export interface Arrival {
  readonly key: string
  readonly kind: "message" | "request"
}

/** Bound on what one comparison reports: one arrival is enough to ring, the rest only name buffers. */
const MAX_ARRIVALS = 64

/** Messages from others and requests that appeared between two snapshots (not mine, not drops). */
export const arrivalsBetween = (before: ChatSnapshot, after: ChatSnapshot, me: string): ReadonlyArray<Arrival> => {
  const arrivals: Arrival[] = []
  for (const [topic, summary] of after.topics) {
    if (arrivals.length >= MAX_ARRIVALS) return arrivals
    const old = before.topics.get(topic)
    const received = summary.messages - summary.sent
    const receivedBefore = old === undefined ? 0 : old.messages - old.sent
    if (received <= receivedBefore) continue
    const key = bufferKeyOfTopic(topic, me)
    if (key !== null) arrivals.push({ key, kind: "message" })
  }
  const pendingBefore = new Set(before.requests.filter((r) => r.status === "pending").map((r) => `${r.from} ${r.requestId}`))
  for (const request of after.requests) {
    if (arrivals.length >= MAX_ARRIVALS) break
    if (request.status !== "pending" || pendingBefore.has(`${request.from} ${request.requestId}`)) continue
    arrivals.push({ key: request.kind === "chat" ? `@${request.from}` : `#${request.group ?? ""}`, kind: "request" })
  }
  return arrivals
}

const bufferKeyOfTopic = (topic: string, me: string): string | null => {
  const parsed = parseTopic(topic)
  if (parsed.kind === "groupTalk") return `#${parsed.group}`
  if (parsed.kind !== "talk") return null
  const [first, second]: ReadonlyArray<string> = parsed.users
  if (first !== me && second !== me) return null
  return `@${first === me ? second : first}`
}

/**
 * Whether any arrival is out of sight: in a buffer other than the one on screen, or anywhere when
 * nothing is seen (`shownKey` null: the terminal reported it lost the focus, DEC mode 1004).
 */
export const deservesBell = (arrivals: ReadonlyArray<Arrival>, shownKey: string | null): boolean => arrivals.some((arrival) => arrival.key !== shownKey)

/** At most one ring per interval; `enabled` is the user's /bell setting. */
export class BellGate {
  private lastRingAt: number | null = null

  constructor(
    private on: boolean,
    private readonly intervalMs: number = BELL_MIN_INTERVAL_MS,
  ) {
    if (!(intervalMs > 0)) throw new Error(`bell interval must be positive, got ${intervalMs}`)
  }

  get enabled(): boolean {
    return this.on
  }

  /** /bell on|off. Turned on, the next arrival rings at once: the user just asked for it. */
  turn(on: boolean): void {
    if (on && !this.on) this.lastRingAt = null
    this.on = on
  }

  /** True when the bell should ring now; a ring is recorded only when it happens. */
  ring(now: number): boolean {
    if (!this.on) return false
    if (this.lastRingAt !== null && now - this.lastRingAt < this.intervalMs && now >= this.lastRingAt) return false
    this.lastRingAt = now
    return true
  }
}

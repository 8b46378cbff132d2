/**
 * Drops counted by reason, and reported without flooding whoever listens: a flood of 100,000
 * forged messages must not become 100,000 notices (the terminal chat writes each to chat.log).
 * Within a window of `windowMs` the first `perWindow` drops are reported one by one; the rest are
 * counted and reported as ONE summary when the window is over. Pure: time comes in as an argument.
 */

/** Distinct reasons counted; the rest add up under OTHER_REASONS. */
const MAX_REASONS = 64
const OTHER_REASONS = "(other reasons)"
const MAX_REASON_CHARS = 120

/** A reason without the ids and numbers that vary from message to message, so drops add up. */
export const reasonKey = (reason: string): string => {
  // The same few reasons come again and again in a flood: remembered, not recomputed (bounded).
  const known = keys.get(reason)
  if (known !== undefined) return known
  const key = reason
    .replace(/user-[0-9]+/g, "user-N")
    .replace(/\b[0-9]+_[0-9]+_talk\b/g, "N_M_talk")
    .replace(/\([0-9]+ bytes\)/g, "(N bytes)")
    .slice(0, MAX_REASON_CHARS)
  if (keys.size >= MAX_CACHED_KEYS) keys.clear()
  keys.set(reason, key)
  return key
}
const MAX_CACHED_KEYS = 1024
const keys = new Map<string, string>()

export interface DropReport {
  readonly topic: string
  readonly reason: string
}

export class DropTally {
  private readonly counts = new Map<string, number>()
  private windowStart = Number.NEGATIVE_INFINITY
  private shown = 0
  private held = new Map<string, number>()
  private heldTotal = 0

  constructor(private readonly perWindow = 10, private readonly windowMs = 1000) {}

  /** Counts a routine drop (an echo, a duplicate, a repeat): by reason only, never reported. */
  count(reason: string): void {
    this.tally(reasonKey(reason))
  }

  private tally(key: string): string {
    const counted = this.counts.has(key) || this.counts.size < MAX_REASONS ? key : OTHER_REASONS
    this.counts.set(counted, (this.counts.get(counted) ?? 0) + 1)
    return counted
  }

  /** Counts one drop; returns what to report now (this drop, and/or the summary of a window that ended). */
  record(topic: string, reason: string, now: number): ReadonlyArray<DropReport> {
    const counted = this.tally(reasonKey(reason))
    const reports: DropReport[] = []
    const summary = this.flush(now)
    if (summary !== null) reports.push(summary)
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now
      this.shown = 0
    }
    if (this.shown < this.perWindow) {
      this.shown += 1
      reports.push({ topic: topic.slice(0, 120), reason })
    } else {
      this.held.set(counted, (this.held.get(counted) ?? 0) + 1)
      this.heldTotal += 1
    }
    return reports
  }

  /** The summary of what was held back, once its window is over (null if nothing was, or it is not). */
  flush(now: number): DropReport | null {
    if (this.heldTotal === 0 || now - this.windowStart < this.windowMs) return null
    const top = [...this.held].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([reason, n]) => `${reason} ×${n}`)
    const summary = { topic: "(many topics)", reason: `${this.heldTotal} more dropped within ${this.windowMs} ms: ${top.join("; ")}${this.held.size > 3 ? "; …" : ""}` }
    this.held = new Map()
    this.heldTotal = 0
    return summary
  }

  /** Every drop so far, by reason. */
  byReason(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.counts)
  }
}

/**
 * Requests that arrive close together are not asked one by one: a flood of requests from fake ids
 * must not turn the screen into a stack of popups. A few in a while pop up, each as its own
 * question; past that, one summary says how many came ("37 new requests — F6 to see them") and
 * counts on while it is open. Pure but for the clock it is given.
 */
import type { KeyEvent } from "./keymap.ts"
import type { Popup, PopupFrame, PopupKeyResult } from "./popups.ts"
import { seg, styledLine } from "./styled.ts"
import { counted } from "./plural.ts"

/** More than this many new requests within the window, and they are summarised. */
export const REQUEST_BURST = 3
export const REQUEST_BURST_WINDOW_MS = 10_000
/** Requests remembered as having arrived (bounded; a forgotten one would only count again). */
const MAX_REMEMBERED = 4096

export class RequestBurst {
  private readonly seen = new Set<string>()
  private arrivals: number[] = []

  constructor(private readonly burst = REQUEST_BURST, private readonly windowMs = REQUEST_BURST_WINDOW_MS) {}

  /** Requests `keys` are pending at `now`: whether those new among them came as part of a burst. */
  arrive(keys: ReadonlyArray<string>, now: number): boolean {
    this.arrivals = this.arrivals.filter((at) => now - at < this.windowMs)
    for (const key of keys) {
      if (this.seen.has(key)) continue
      if (this.seen.size >= MAX_REMEMBERED) this.seen.clear()
      this.seen.add(key)
      // Only whether the count passes the burst matters: no need to keep more.
      if (this.arrivals.length <= this.burst) this.arrivals.push(now)
    }
    return this.arrivals.length > this.burst
  }
}

/** The summary of a burst: how many came; F6 or Enter lists them. Keys count only once it is armed. */
export class RequestSummaryPopup implements Popup {
  private readonly armedAt: number
  count = 0

  constructor(private readonly onList: () => void, private readonly now: () => number, armAfterMs: number) {
    this.armedAt = now() + armAfterMs
  }

  get armsAt(): number {
    return this.armedAt
  }

  frame(width: number): PopupFrame {
    const armed = this.now() >= this.armedAt
    return {
      title: "Requests",
      lines: [
        styledLine([], width),
        styledLine([seg("  "), seg(counted(this.count, "new request"), { bold: true, fg: "yellow" }), seg(" — F6 to see them")], width),
        styledLine([seg("  they came close together, so they are not asked one by one", { fg: "grey" })], width),
        styledLine([], width),
      ],
      footer: armed ? "[F6/Enter] list them · [Esc] later (they stay in F6 requests)" : "(keys answer in a moment)",
      cursor: null,
    }
  }

  handleKey(ch: string | undefined, key: KeyEvent | undefined): PopupKeyResult {
    // Popping up in the middle of typing: until armed, keys go on to the input line.
    if (this.now() < this.armedAt) return "unhandled"
    const name = key?.full ?? ch ?? ""
    if (name === "f6" || name === "enter" || name === "return") {
      this.onList()
      return "close"
    }
    return name === "escape" ? "close" : "handled"
  }
}

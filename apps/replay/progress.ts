/**
 * How far a long read is, on stderr, as one line redrawn in place — only on a terminal: a pipe or a
 * file gets nothing, so `replay … 2>log` and scripts see only warnings and errors. The line shows
 * once a read has taken a second, then at most four times a second (a redraw costs a write).
 */
import { terminalLine } from "./describe.ts"

/** Progress shows once a read has taken this long, then at most this often. */
export const PROGRESS_AFTER_MS = 1000
export const PROGRESS_EVERY_MS = 250

/** Where the line goes: stderr in the tool, a fake in tests. */
export interface ProgressSink {
  readonly isTTY?: boolean | undefined
  write(text: string): unknown
}

/** `reading events.log: 42% (12.3 of 29.1 MB, 3.2 s)`; the name made inert (it comes from the command line). */
export const formatProgress = (what: string, done: number, total: number, elapsedMs: number): string => {
  const share = Math.min(100, Math.max(0, Math.floor((100 * done) / Math.max(1, total))))
  return terminalLine(`reading ${what}: ${share}% (${(done / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB, ${(elapsedMs / 1000).toFixed(1)} s)`)
}

export class ProgressLine {
  private lastShown = Number.NEGATIVE_INFINITY
  private shown = false
  private readonly startedAt: number

  constructor(
    private readonly sink: ProgressSink,
    private readonly now: () => number,
  ) {
    this.startedAt = now()
  }

  /** `done` of `total` bytes of `what`: drawn if the sink is a terminal, the read is past a second, and the last draw a quarter-second ago. */
  report(what: string, done: number, total: number): void {
    if (this.sink.isTTY !== true) return
    const now = this.now()
    if (now - this.startedAt < PROGRESS_AFTER_MS || now - this.lastShown < PROGRESS_EVERY_MS) return
    this.lastShown = now
    this.sink.write(`\r${formatProgress(what, done, total, now - this.startedAt)}\u001b[K`)
    this.shown = true
  }

  /** Erases the line, if one is drawn: before any other output on the same terminal. */
  clear(): void {
    if (!this.shown) return
    this.sink.write("\r\u001b[K")
    this.shown = false
  }
}

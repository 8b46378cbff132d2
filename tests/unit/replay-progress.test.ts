/**
 * The replay tool's progress line (apps/replay/progress.ts): its text, its pace on a terminal, and
 * silence everywhere else (a pipe, a file), however long the read.
 */
import { describe, expect, it } from "vitest"
import { formatProgress, PROGRESS_AFTER_MS, PROGRESS_EVERY_MS, ProgressLine, type ProgressSink } from "../../apps/replay/progress.ts"

const sink = (isTTY: boolean) => {
  const writes: Array<string> = []
  const target: ProgressSink = { isTTY, write: (text) => writes.push(text) }
  return { target, writes }
}

/** A clock the test moves. */
const clock = () => {
  let now = 5_000
  return { now: () => now, advance: (ms: number) => void (now += ms) }
}

describe("replay progress", () => {
  it("says the file, the share read, the megabytes and the time; a hostile name is made inert", () => {
    expect(formatProgress("profiles/a/events.log", 12_345_678, 29_100_000, 3_210)).toBe("reading profiles/a/events.log: 42% (12.3 of 29.1 MB, 3.2 s)")
    expect(formatProgress("x", 0, 0, 0)).toBe("reading x: 0% (0.0 of 0.0 MB, 0.0 s)")
    expect(formatProgress("x", 10, 5, 0)).toMatch(/^reading x: 100% /)
    const hostile = formatProgress("evil\u001b[2J\r\nname", 1, 2, 1000)
    expect(hostile).not.toMatch(/[\u0000-\u001f\u007f]/)
    expect(hostile).toMatch(/^reading evil.*name: 50% /)
  })

  it("on a terminal: nothing in the first second, then one redrawn line at most every quarter-second, erased at the end", () => {
    const { target, writes } = sink(true)
    const time = clock()
    const line = new ProgressLine(target, time.now)
    // Reports every 10 ms for 3 s.
    for (let t = 0; t <= 3000; t += 10) {
      line.report("events.log", t, 3000)
      time.advance(10)
    }
    const drawn = writes.filter((w) => w.startsWith("\r") && w.length > 4)
    expect(drawn.length).toBeGreaterThan(0)
    expect(drawn.length).toBeLessThanOrEqual(Math.ceil((3000 - PROGRESS_AFTER_MS) / PROGRESS_EVERY_MS) + 1)
    expect(drawn[0]).toMatch(/^\rreading events\.log: 3[0-9]% .*\u001b\[K$/)
    line.clear()
    expect(writes.at(-1)).toBe("\r\u001b[K")
    const written = writes.length
    line.clear()
    expect(writes.length).toBe(written)
  })

  it("not on a terminal: never a byte, however long the read", () => {
    for (const isTTY of [false, undefined]) {
      const writes: Array<string> = []
      const time = clock()
      const line = new ProgressLine({ isTTY, write: (text) => writes.push(text) }, time.now)
      for (let t = 0; t < 100; t++) {
        line.report("events.log", t, 100)
        time.advance(1000)
      }
      line.clear()
      expect(writes).toEqual([])
    }
  })
})

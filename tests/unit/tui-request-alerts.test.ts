/** When requests are asked one by one, and when they are summarised (adapters/tui/request-alerts.ts). */
import { describe, expect, it } from "vitest"
import { RequestBurst, RequestSummaryPopup } from "../../adapters/tui/request-alerts.ts"

describe("requests close together", () => {
  it("a few in a while are asked one by one; more than three within ten seconds are a burst", () => {
    const burst = new RequestBurst(3, 10_000)
    expect(burst.arrive(["a"], 0)).toBe(false)
    expect(burst.arrive(["a", "b"], 1_000)).toBe(false)
    // Still pending, seen again: not new arrivals.
    expect(burst.arrive(["a", "b"], 2_000)).toBe(false)
    expect(burst.arrive(["c"], 3_000)).toBe(false)
    expect(burst.arrive(["d"], 4_000)).toBe(true)
    // Well apart, one at a time: never a burst.
    const calm = new RequestBurst(3, 10_000)
    expect([0, 1, 2, 3, 4].map((i) => calm.arrive([`r${i}`], i * 6_000))).toEqual([false, false, false, false, false])
    // Many at once.
    expect(new RequestBurst(3, 10_000).arrive(Array.from({ length: 37 }, (_, i) => `x${i}`), 0)).toBe(true)
  })

  it("the summary counts, ignores keys until armed, and lists them on F6", () => {
    let now = 0
    let listed = 0
    const popup = new RequestSummaryPopup(() => { listed += 1 }, () => now, 500)
    popup.count = 37
    expect(popup.frame(80).lines.join("\n")).toContain("37 new requests")
    expect(popup.handleKey(undefined, { full: "f6", name: "f6" } as never)).toBe("unhandled")
    now = 600
    expect(popup.handleKey("x", { full: "x", name: "x" } as never)).toBe("handled")
    expect(popup.handleKey(undefined, { full: "f6", name: "f6" } as never)).toBe("close")
    expect(listed).toBe(1)
  })
})

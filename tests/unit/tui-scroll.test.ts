/** Where a scrolled-back view goes when its lines change, and a read-only list that scrolls (issue 8, problems 5 and 6). */
import { describe, expect, it } from "vitest"
import { anchoredTop } from "../../adapters/tui/message-pane.ts"
import { ListPopup } from "../../adapters/tui/popups.ts"
import { seg } from "../../adapters/tui/styled.ts"

/** Lines of one row each: their starts are their indices. */
const oneRowEach = (lines: ReadonlyArray<string>): ReadonlyArray<number> => lines.map((_, i) => i)
const numbered = (from: number, to: number): ReadonlyArray<string> => Array.from({ length: to - from }, (_, i) => `m${from + i}`)

describe("anchoredTop", () => {
  it("keeps the top line where it is when lines arrive at the end", () => {
    const before = ["paging", "day", ...numbered(0, 50)]
    const after = [...before, ...numbered(50, 53)]
    expect(anchoredTop(before, oneRowEach(before), 20, after, oneRowEach(after), after.length)).toBe(20)
  })

  it("leaves older lines prepended to the distance from the end (null), even when the first lines are alike", () => {
    const before = ["paging", "day", ...numbered(50, 100)]
    const after = ["paging", "day", ...numbered(0, 100)]
    expect(anchoredTop(before, oneRowEach(before), 1, after, oneRowEach(after), after.length)).toBeNull()
    const loading = ["loading", ...numbered(50, 100)]
    const paged = ["paging", ...numbered(0, 100)]
    expect(anchoredTop(loading, oneRowEach(loading), 0, paged, oneRowEach(paged), paged.length)).toBeNull()
  })

  it("follows the top line through a re-wrap, within its rows", () => {
    const lines = ["a", "b", "c", "d"]
    // Before: two rows each (starts 0 2 4 6), top on b's second row. After: three rows each.
    expect(anchoredTop(lines, [0, 2, 4, 6], 3, lines, [0, 3, 6, 9], 12)).toBe(4)
    // After: one row each: b's only row.
    expect(anchoredTop(lines, [0, 2, 4, 6], 3, lines, [0, 1, 2, 3], 4)).toBe(1)
  })
})

describe("ListPopup of information only", () => {
  const items = Array.from({ length: 30 }, (_, i) => ({ segments: [seg(`row ${i}`)] }))
  const firstShown = (popup: ListPopup): string => popup.frame(40, 10).lines[0] ?? ""

  it("scrolls with the first ↓ and by pages, and stops at either end", () => {
    const popup = new ListPopup("Help", items, "↑↓ scroll")
    expect(firstShown(popup)).toContain("row 0")
    popup.handleKey(undefined, { full: "down", name: "down" })
    expect(firstShown(popup)).toContain("row 1")
    expect(popup.frame(40, 10).footer).toContain("2-11 of 30")
    for (let i = 0; i < 5; i++) popup.handleKey(undefined, { full: "pagedown", name: "pagedown" })
    expect(popup.frame(40, 10).footer).toContain("21-30 of 30")
    popup.handleKey(undefined, { full: "up", name: "up" })
    expect(firstShown(popup)).toContain("row 19")
    popup.handleKey(undefined, { full: "home", name: "home" })
    expect(firstShown(popup)).toContain("row 0")
  })
})

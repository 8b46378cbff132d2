/**
 * What a blessed screen of the chat writes, read back through a small terminal emulator: every
 * cluster lands in the columns the width model gives it, a redraw leaves nothing behind, a popup
 * border over half of a wide character stands, and the pane wraps without splitting a cluster.
 * (tests/e2e/chat-unicode.tmux.test.ts checks the same in tmux.)
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { createLayout, createScreen } from "../../adapters/tui/layout.ts"
import { ClusterTable, encodeCells, FILLER, installCellDrawing, RESET_AT } from "../../adapters/tui/terminal-cells.ts"
import { seg, styledLine } from "../../adapters/tui/styled.ts"
import { displayWidth, graphemes } from "../../adapters/tui/text-width.ts"
import { VirtualTerminal } from "../support/virtual-terminal.ts"

const LINE = "Ótimo 👍 我带基准数字 — 🇧🇷 ok"
/** Clusters terminals and blessed disagree on, and plain ones between them. */
const TRICKY = ["a", " ", "é", "e\u0301", "Ó", "我", "👍", "👍🏽", "🇧🇷", "🇧", "👨‍👩‍👧", "❤️", "1️⃣", "🏳️‍🌈", "ก้", "\u1100\u1161\u11a8", "—", "·", "\u200b", "\u0301", "x\u200d", "\ue000", "\uf8ff"]

const setup = (columns: number, rows: number) => {
  const terminal = new VirtualTerminal(columns, rows)
  const screen = createScreen({ ...terminal.streams(), title: "test", env: { TERM: "xterm-256color" } })
  const layout = createLayout(screen)
  // blessed buffers its output until the next tick; flushing makes a render synchronous here.
  const render = () => {
    screen.render()
    screen.program.flush()
  }
  return { terminal, screen, layout, render }
}

/** Columns of `text` as the model places them: each cluster at its first column. */
const expectedColumns = (text: string): ReadonlyArray<string> => {
  const columns: string[] = []
  for (const cluster of graphemes(text)) {
    const width = displayWidth(cluster)
    if (width === 0) continue
    columns.push(cluster)
    for (let k = 1; k < width; k++) columns.push("")
  }
  return columns
}

describe("encodeCells", () => {
  it("gives blessed one unit per cell: placeholders and fillers for clusters it would measure wrongly", () => {
    const table = new ClusterTable()
    const encoded = encodeCells(`{bold}[x]{/bold} ${LINE}`, table)
    const visible = encoded.replace(/\{\/?[\w\-,;!#]*\}/g, "")
    // CJK stays (blessed adds the blank cell after it itself); the emoji and the flag are one placeholder and one filler each.
    const cjk = [...visible].filter((c) => /\p{Script=Han}/u.test(c)).length
    expect(visible.length + cjk).toBe(displayWidth(`[x] ${LINE}`))
    expect([...visible].filter((c) => c === FILLER)).toHaveLength(2)
    expect(encoded.startsWith("{bold}[x]{/bold} Ótimo ")).toBe(true)
  })

  it("holds for any text: units plus CJK cells equal the measured width", () => {
    let multi = 0
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TRICKY), { minLength: 0, maxLength: 30 }), (parts) => {
        const text = parts.join("")
        if (graphemes(text).some((g) => [...g].length > 1)) multi += 1
        const visible = encodeCells(text, new ClusterTable())
        const cjk = [...visible].filter((c) => /\p{Script=Han}/u.test(c)).length
        expect([...visible].every((c) => c.length === 1)).toBe(true)
        expect(visible.length + cjk).toBe(displayWidth(text))
      }),
      { numRuns: 300 },
    )
    expect(multi).toBeGreaterThan(150)
  })
})

describe("a blessed screen drawing wide characters", () => {
  it("puts each cluster of the bug report's line in its columns, and leaves nothing behind when it goes", () => {
    const { terminal, layout, render } = setup(40, 8)
    layout.input.setContent(`[x] ${LINE}`)
    render()
    expect(terminal.screen()[7]).toBe(`[x] ${LINE}`)
    expect(terminal.columnsOf(7).slice(0, expectedColumns(`[x] ${LINE}`).length)).toEqual(expectedColumns(`[x] ${LINE}`))
    layout.input.setContent("[x]")
    render()
    expect(terminal.screen()[7]).toBe("[x]")
  })

  it("never leaves a ghost: after any sequence of lines the screen is what a fresh screen draws for the last", () => {
    let wide = 0
    fc.assert(
      fc.property(fc.array(fc.array(fc.constantFrom(...TRICKY), { minLength: 0, maxLength: 40 }), { minLength: 1, maxLength: 4 }), (lines) => {
        const { terminal, layout, render, screen } = setup(30, 6)
        for (const parts of lines) {
          layout.input.setContent(parts.join(""))
          layout.status.setContent([...parts].reverse().join(""))
          render()
        }
        const last = lines[lines.length - 1]!
        if (last.some((p) => displayWidth(p) === 2)) wide += 1
        const fresh = setup(30, 6)
        fresh.layout.input.setContent(last.join(""))
        fresh.layout.status.setContent([...last].reverse().join(""))
        fresh.render()
        expect(terminal.screen()).toEqual(fresh.terminal.screen())
        screen.destroy()
        fresh.screen.destroy()
      }),
      { numRuns: 60 },
    )
    expect(wide).toBeGreaterThan(15)
  })

  it("draws a fitted line exactly as wide as it was measured: the divider after it stays in its column", () => {
    const { terminal, layout, render, screen } = setup(40, 4)
    let cut = 0
    fc.assert(
      fc.property(fc.array(fc.array(fc.constantFrom(...TRICKY), { maxLength: 16 }), { minLength: 1, maxLength: 3 }), (parts) => {
        const segments = parts.map((p, i) => seg(p.join(""), i % 2 === 0 ? { fg: "grey" } : {}))
        if (displayWidth(parts.flat().join("")) > 20) cut += 1
        layout.input.setContent(`${styledLine(segments, 20)}{grey-fg}│{/grey-fg}`)
        render()
        expect(terminal.columnsOf(3)[20]).toBe("│")
      }),
      { numRuns: 300 },
    )
    expect(cut).toBeGreaterThan(20)
    screen.destroy()
  })

  it("keeps a popup's borders where they belong over wide characters of both parities, the covered halves blank", () => {
    const { terminal, layout, render } = setup(60, 12)
    const row = (shift: number) => `${"x".repeat(shift)}${"我👍🇧🇷".repeat(20)}`
    layout.pane.show("k", () => Array.from({ length: 12 }, (_, i) => row(i % 2)), { resetScroll: true })
    render()
    layout.popup.width = 33
    layout.popup.height = 6
    layout.popup.setLabel(" Test 👍 ")
    layout.popup.setContent("inside 我")
    layout.popup.show()
    render()
    const top = terminal.screen().findIndex((text) => text.includes("┌"))
    const left = terminal.columnsOf(top).indexOf("┌")
    const right = terminal.columnsOf(top).indexOf("┐")
    expect(right - left).toBe(32)
    expect(terminal.screen()[top]).toContain("Test 👍")
    for (let y = top + 1; y < top + 5; y++) {
      expect(terminal.columnsOf(y)[left]).toBe("│")
      expect(terminal.columnsOf(y)[right]).toBe("│")
      // The column after the border starts a cluster or is blank: never the second half of one.
      expect(terminal.columnsOf(y)[right + 1]).not.toBe("")
    }
    expect(terminal.columnsOf(top + 5)[left]).toBe("└")
  })

  it("wraps the pane by terminal columns: no cluster is split over two rows", () => {
    // 80 columns: the side list takes 18, the pane the other 62.
    const { terminal, layout, render } = setup(80, 10)
    const text = `x${"我👍🏽🇧🇷e\u0301".repeat(12)}`
    layout.pane.show("k", () => [text], { resetScroll: true })
    render()
    const rows = Array.from({ length: 8 }, (_, y) => terminal.columnsOf(y).slice(18).join("").trimEnd()).filter((r) => r.length > 0)
    expect(rows.length).toBeGreaterThan(1)
    expect(rows.join("")).toBe(text)
    for (const r of rows) expect(displayWidth(r)).toBeLessThanOrEqual(62)
    // Narrower (a resize): wrapped again to the new width, still whole.
    layout.pane.box.width = 31
    layout.pane.refit()
    render()
    const narrow = Array.from({ length: 10 }, (_, y) => terminal.columnsOf(y).slice(18, 49).join("").trimEnd()).filter((r) => r.length > 0)
    expect(narrow.length).toBeGreaterThan(rows.length)
    expect(narrow.join("")).toBe(text)
  })

  it("starts its cluster table over when it fills up, and draws the same", () => {
    const { terminal, layout, render, screen } = setup(40, 8)
    const cells = installCellDrawing(screen)
    const many = (from: number, count: number) => Array.from({ length: count }, (_, i) => `${String.fromCodePoint(0x4e00 + from + i)}\u0301`).join("")
    layout.pane.show("a", () => [many(0, RESET_AT + 100)], { resetScroll: true })
    render()
    layout.pane.show("b", () => [many(10_000, 1_100)], { resetScroll: true })
    layout.input.setContent(`[x] ${LINE}`)
    render()
    // Only what is on screen now is in the table.
    expect(cells.table.size).toBeLessThan(1_200)
    expect(terminal.screen()[7]).toBe(`[x] ${LINE}`)
  })
})

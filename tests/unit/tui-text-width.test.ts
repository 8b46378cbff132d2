/**
 * The width model (what tmux 3.3a on glibc showed for each kind of cluster), the functions that
 * pad, cut and wrap by it, the input line stepping by grapheme cluster, and the colour count.
 */
import { describe, expect, it } from "vitest"
import { LineEditor } from "../../adapters/tui/line-editor.ts"
import { styledLine, seg } from "../../adapters/tui/styled.ts"
import { colourDepth, reduceColour } from "../../adapters/tui/terminal-colours.ts"
import { displayCluster, displayWidth, fitColumns, fitPrefix, graphemes } from "../../adapters/tui/text-width.ts"
import { wrapTaggedLine } from "../../adapters/tui/wrap.ts"

describe("the width model", () => {
  it("gives each kind of cluster the columns tmux gives it", () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ["a", 1],
      ["Ó", 1],
      ["O\u0301", 1],
      ["我", 2],
      ["👍", 2],
      // The skin tone is a wide cell of its own in tmux and xterm.
      ["👍🏽", 4],
      // One column per regional indicator.
      ["🇧🇷", 2],
      ["🇧", 1],
      // tmux folds what follows a joiner into the cell before.
      ["👨‍👩‍👧", 2],
      ["👩🏽‍💻", 4],
      ["🏳️‍🌈", 1],
      // A variation selector adds nothing.
      ["❤️", 1],
      ["1️⃣", 1],
      ["⌚", 2],
      ["ก้", 1],
      ["\u1100\u1161\u11a8", 2],
      ["\u0915\u094d\u0937", 2],
      ["—", 1],
      ["\u00ad", 1],
    ]
    expect(cases.map(([text]) => [text, displayWidth(text)])).toEqual(cases)
  })

  it("draws what would confuse a terminal in a form it cannot misread", () => {
    // A trailing joiner would make tmux swallow the next cluster; a lone mark gets a base; invisible format characters draw nothing.
    expect(displayCluster("x\u200d")).toEqual({ text: "x", width: 1 })
    expect(displayCluster("\u0301")).toEqual({ text: "\u25cc\u0301", width: 1 })
    expect(displayCluster("\u200b")).toEqual({ text: "", width: 0 })
    expect(displayCluster("\u0378")).toEqual({ text: "\ufffd", width: 1 })
  })

  it("pads, cuts and fits by whole clusters", () => {
    expect(fitPrefix("ab🇧🇷cd", 3)).toEqual({ text: "ab", width: 2 })
    expect(fitPrefix("ab🇧🇷cd", 4)).toEqual({ text: "ab🇧🇷", width: 4 })
    expect(fitPrefix("我我", 3)).toEqual({ text: "我", width: 2 })
    expect(fitColumns("我我我", 5)).toBe("我我…")
    expect(displayWidth(fitColumns("e\u0301👍🏽x", 7))).toBe(7)
    expect(graphemes("a👍🏽🇧🇷e\u0301")).toEqual(["a", "👍🏽", "🇧🇷", "e\u0301"])
  })

  it("fits styled lines to the width by columns, cutting before a cluster that would not fit", () => {
    const line = styledLine([seg("ab", { fg: "grey" }), seg("🇧🇷我👍🏽")], 6)
    expect(line).toBe("{grey-fg}ab{/grey-fg}🇧🇷… ")
  })
})

describe("wrapTaggedLine", () => {
  it("wraps by columns, never inside a cluster, after a blank when one is near", () => {
    expect(wrapTaggedLine("我我我我我", 4)).toEqual(["我我", "我我", "我"])
    expect(wrapTaggedLine("x我我我", 4)).toEqual(["x我", "我我"])
    expect(wrapTaggedLine("{grey-fg}12:00{/grey-fg} hello wide world", 12)).toEqual(["{grey-fg}12:00{/grey-fg} hello ", "wide world"])
    expect(wrapTaggedLine("👍🏽👍🏽👍🏽", 5)).toEqual(["👍🏽", "👍🏽", "👍🏽"])
  })
})

describe("the input line by grapheme cluster", () => {
  const typed = (text: string) => {
    const editor = new LineEditor(200, 10)
    editor.insert(text)
    return editor
  }

  it("steps over and deletes a flag, a skin-tone emoji or an accented letter as one", () => {
    const editor = typed("a🇧🇷b👍🏽ce\u0301")
    expect(editor.length).toBe(6)
    editor.backspace()
    expect(editor.text).toBe("a🇧🇷b👍🏽c")
    editor.left()
    editor.backspace()
    expect(editor.text).toBe("a🇧🇷bc")
    editor.home()
    editor.right()
    editor.deleteForward()
    expect(editor.text).toBe("abc")
  })

  it("joins an accent or a skin tone typed after its base into one cluster", () => {
    const editor = typed("e")
    editor.insert("\u0301")
    expect(editor.length).toBe(1)
    editor.insert("👍")
    editor.insert("🏽")
    expect(editor.length).toBe(2)
    expect(editor.view(20)).toEqual({ text: "e\u0301👍🏽", cursorColumn: 5 })
  })

  it("puts the cursor after the line by columns and scrolls without cutting a cluster", () => {
    const editor = typed("Ótimo 👍 我带基准数字 — 🇧🇷 ok")
    expect(editor.view(80).cursorColumn).toBe(displayWidth("Ótimo 👍 我带基准数字 — 🇧🇷 ok"))
    const narrow = editor.view(9)
    expect(displayWidth(narrow.text)).toBeLessThanOrEqual(9)
    expect(narrow.text.endsWith("ok")).toBe(true)
    expect(narrow.cursorColumn).toBe(8)
  })

  it("a cut between two flag halves joins them again", () => {
    const editor = typed("🇧x🇷")
    editor.left()
    editor.backspace()
    expect(editor.text).toBe("🇧🇷")
    expect(editor.length).toBe(1)
  })
})

describe("colours", () => {
  it("counts 256 colours for tmux and screen terminals and inside tmux, terminfo's count elsewhere", () => {
    expect(colourDepth({ TERM: "tmux-256color" }, 8)).toBe(256)
    expect(colourDepth({ TERM: "screen-256color" }, 8)).toBe(256)
    expect(colourDepth({ TERM: "xterm", TMUX: "/tmp/tmux-0/default,1,0" }, 8)).toBe(256)
    expect(colourDepth({ TERM: "tmux" }, 8)).toBe(256)
    expect(colourDepth({ TERM: "xterm", COLORTERM: "truecolor" }, 8)).toBe(256)
    expect(colourDepth({ TERM: "xterm" }, 8)).toBe(8)
    expect(colourDepth({ TERM: "screen" }, 8)).toBe(8)
    expect(colourDepth({ TERM: "linux" }, 8)).toBe(8)
  })

  it("draws grey as white, not black, when only 8 colours exist", () => {
    const blessedReduce = (colour: number) => (colour >= 8 && colour < 16 ? colour - 8 : colour)
    expect(reduceColour(8, 8, blessedReduce)).toBe(7)
    expect(reduceColour(9, 8, blessedReduce)).toBe(1)
    expect(reduceColour(8, 256, (c) => c)).toBe(8)
  })
})

/** The input line: editing, history, limits and the horizontally scrolled view. */
import { describe, expect, it } from "vitest"
import { LineEditor, NEWLINE_MARK } from "../../adapters/tui/line-editor.ts"

const typed = (text: string, max = 100) => {
  const editor = new LineEditor(max, 10)
  editor.insert(text)
  return editor
}

describe("LineEditor", () => {
  it("inserts at the cursor and moves by code points (an emoji is one step)", () => {
    const editor = typed("ab👍c")
    editor.left()
    editor.left()
    editor.insert("X")
    expect(editor.text).toBe("abX👍c")
    editor.backspace()
    editor.deleteForward()
    expect(editor.text).toBe("abc")
  })

  it("joins a surrogate pair that arrives in two key events", () => {
    const editor = new LineEditor(100, 10)
    editor.insert("\ud83d")
    expect(editor.text).toBe("")
    editor.insert("\ude00")
    expect(editor.text).toBe("😀")
  })

  it("refuses text past the limit (counted like the domain, in UTF-16 units) and keeps the line", () => {
    const editor = typed("abc", 5)
    expect(editor.insert("def")).toBe(false)
    expect(editor.text).toBe("abc")
    expect(editor.insert("de")).toBe(true)
    expect(editor.insert("👍")).toBe(false)
  })

  it("word and kill commands; yank puts the killed text back", () => {
    const editor = typed("hello big world")
    editor.deleteWordBack()
    expect(editor.text).toBe("hello big ")
    editor.yank()
    expect(editor.text).toBe("hello big world")
    editor.home()
    editor.wordRight()
    editor.killToEnd()
    expect(editor.text).toBe("hello")
    editor.killToStart()
    expect(editor.text).toBe("")
  })

  it("history: up recalls, down returns to the draft being typed; bounded", () => {
    const editor = new LineEditor(100, 2)
    for (const line of ["one", "two", "three"]) {
      editor.insert(line)
      editor.take()
    }
    editor.insert("draft")
    editor.historyPrevious()
    expect(editor.text).toBe("three")
    editor.historyPrevious()
    editor.historyPrevious()
    expect(editor.text).toBe("two")
    editor.historyNext()
    editor.historyNext()
    expect(editor.text).toBe("draft")
  })

  it("the view scrolls to keep the cursor visible and shows line feeds as a mark", () => {
    const editor = typed("a\nb")
    expect(editor.view(20)).toEqual({ text: `a${NEWLINE_MARK}b`, cursorColumn: 3 })
    const long = typed("x".repeat(50))
    const view = long.view(20)
    // 19 characters and the cell the cursor stands on.
    expect(view.text).toHaveLength(19)
    expect(view.cursorColumn).toBe(19)
    long.home()
    expect(long.view(20).cursorColumn).toBe(0)
  })

  it("the word before the cursor, for completion", () => {
    const editor = typed("/talk user-1")
    expect(editor.wordBeforeCursor()).toEqual({ word: "user-1", atLineStart: false })
    expect(editor.replaceWordBeforeCursor("user-12345 ")).toBe(true)
    expect(editor.text).toBe("/talk user-12345 ")
    expect(typed("/ta").wordBeforeCursor()).toEqual({ word: "/ta", atLineStart: true })
  })
})

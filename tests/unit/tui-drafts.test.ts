/** The input line per buffer: each conversation keeps its own draft, cursor and history. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { cutDraft, Drafts, MAX_SAVED_DRAFT_CHARS, MAX_SAVED_DRAFTS } from "../../adapters/tui/drafts.ts"
import { fileUiStateStore } from "../../adapters/tui/ui-state-store.ts"

describe("Drafts", () => {
  it("keeps one unsent line per buffer: switching shows the other buffer's, switching back brings it back", () => {
    const drafts = new Drafts(100)
    drafts.editorFor("@alice").insert("half a thought")
    expect(drafts.editorFor("status").text).toBe("")
    drafts.editorFor("#team").insert("for the team")
    expect(drafts.editorFor("@alice").text).toBe("half a thought")
    expect(drafts.draftOf("#team")).toBe("for the team")
    expect(drafts.draftOf("@nobody")).toBe("")
  })

  it("a / typed first over an earlier draft starts a command; the draft comes back after it", () => {
    const drafts = new Drafts(100)
    drafts.restore({ "#team": "half a thought" })
    drafts.shown("#team")
    expect(drafts.keyTyped("#team", "/")).toBe(true)
    const editor = drafts.editorFor("#team")
    expect(editor.text).toBe("")
    editor.insert("/leave")
    expect(drafts.asideOf("#team")).toBe("half a thought")
    // Saved meanwhile (a quit): the draft is kept, not the half-typed command.
    expect(drafts.saved()).toEqual({ "#team": "half a thought" })
    expect(editor.take()).toBe("/leave")
    drafts.bringBack("#team")
    expect(editor.text).toBe("half a thought")
    expect(drafts.asideOf("#team")).toBeNull()
    // Back as an earlier draft: another / first runs another command.
    expect(drafts.keyTyped("#team", "/")).toBe(true)
  })

  it("a / typed after another key, or into a draft typed on this visit, is text", () => {
    const drafts = new Drafts(100)
    drafts.restore({ "#team": "and" })
    drafts.shown("#team")
    expect(drafts.keyTyped("#team", null)).toBe(false) // End, say
    expect(drafts.keyTyped("#team", "/")).toBe(false)
    drafts.editorFor("@bob").insert("either")
    drafts.shown("@bob")
    drafts.keyTyped("@bob", " ")
    expect(drafts.keyTyped("@bob", "/")).toBe(false)
    // An empty line has nothing to set aside.
    drafts.shown("@carol")
    expect(drafts.keyTyped("@carol", "/")).toBe(false)
  })

  it("emptying the line over a set-aside draft brings the draft back at once; text in the line keeps it aside", () => {
    const drafts = new Drafts(100)
    drafts.editorFor("@alice").insert("unsent")
    drafts.shown("@alice")
    drafts.keyTyped("@alice", "/")
    const editor = drafts.editorFor("@alice")
    editor.insert("/")
    drafts.bringBack("@alice")
    expect(editor.text).toBe("/")
    editor.backspace()
    drafts.bringBack("@alice")
    expect(editor.text).toBe("unsent")
  })

  it("keeps the cursor where it was in each buffer", () => {
    const drafts = new Drafts(100)
    const alice = drafts.editorFor("@alice")
    alice.insert("hello world")
    alice.wordLeft()
    drafts.editorFor("@bob").insert("x")
    const back = drafts.editorFor("@alice")
    expect(back.cursorIndex).toBe(6)
    back.insert("big ")
    expect(back.text).toBe("hello big world")
  })

  it("sending empties only that buffer's line, and ↑ recalls only what was sent there", () => {
    const drafts = new Drafts(100)
    drafts.editorFor("@alice").insert("to alice")
    drafts.editorFor("@bob").insert("to bob, unsent")
    expect(drafts.editorFor("@alice").take()).toBe("to alice")
    expect(drafts.draftOf("@alice")).toBe("")
    expect(drafts.draftOf("@bob")).toBe("to bob, unsent")
    const bob = drafts.editorFor("@bob")
    bob.historyPrevious()
    // Bob's buffer has sent nothing: no history there, the draft stays.
    expect(bob.text).toBe("to bob, unsent")
    const alice = drafts.editorFor("@alice")
    alice.historyPrevious()
    expect(alice.text).toBe("to alice")
  })

  it("shares the kill ring: Ctrl-K in one buffer, Ctrl-Y in another", () => {
    const drafts = new Drafts(100)
    const alice = drafts.editorFor("@alice")
    alice.insert("move this")
    alice.home()
    alice.killToEnd()
    const bob = drafts.editorFor("@bob")
    expect(bob.yank()).toBe(true)
    expect(bob.text).toBe("move this")
    expect(drafts.draftOf("@alice")).toBe("")
  })

  it("is bounded: past the limit an empty editor goes first, then the least recently used", () => {
    const drafts = new Drafts(100, 10, 3)
    drafts.editorFor("@a").insert("draft a")
    drafts.editorFor("@b")
    drafts.editorFor("@c").insert("draft c")
    drafts.editorFor("@d").insert("draft d")
    expect(drafts.size).toBe(3)
    expect(drafts.draftOf("@a")).toBe("draft a")
    drafts.editorFor("@e")
    expect(drafts.size).toBe(3)
    // No empty one besides @e itself (the one in use is never evicted): the oldest, @a, goes.
    expect(drafts.draftOf("@a")).toBe("")
    expect(drafts.draftOf("@c")).toBe("draft c")
    expect(drafts.draftOf("@d")).toBe("draft d")
  })

  it("saves non-blank drafts, most recent first, bounded in number and length, and restores them", () => {
    const drafts = new Drafts(10_000)
    for (let n = 0; n < MAX_SAVED_DRAFTS + 5; n++) drafts.editorFor(`@user-${n}`).insert(`draft ${n}`)
    drafts.editorFor("@blank").insert("   ")
    drafts.editorFor("@long").insert("x".repeat(MAX_SAVED_DRAFT_CHARS + 100))
    const saved = drafts.saved()
    const keys = Object.keys(saved)
    expect(keys).toHaveLength(MAX_SAVED_DRAFTS)
    expect(keys[0]).toBe("@long")
    expect(saved["@long"]).toHaveLength(MAX_SAVED_DRAFT_CHARS)
    expect(saved["@blank"]).toBeUndefined()
    expect(saved[`@user-${MAX_SAVED_DRAFTS + 4}`]).toBe(`draft ${MAX_SAVED_DRAFTS + 4}`)
    expect(saved["@user-0"]).toBeUndefined()

    const again = new Drafts(10_000)
    again.editorFor("@user-54").insert("typed before the restore")
    again.restore(saved)
    expect(again.draftOf(`@user-${MAX_SAVED_DRAFTS}`)).toBe(`draft ${MAX_SAVED_DRAFTS}`)
    expect(again.draftOf("@user-54")).toBe("typed before the restore")
    // Restored in the same order (saving again gives the same most-recent-first list); the one
    // typed before the restore is older than all of them.
    expect(Object.keys(again.saved())).toEqual([...keys.filter((key) => key !== "@user-54"), "@user-54"])
  })

  it("cuts a long draft without splitting a surrogate pair", () => {
    const text = "a".repeat(MAX_SAVED_DRAFT_CHARS - 1) + "😀"
    expect(cutDraft(text)).toBe("a".repeat(MAX_SAVED_DRAFT_CHARS - 1))
    expect(cutDraft("short")).toBe("short")
  })
})

describe("drafts in ui-state.json", () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
  })
  const tempFile = (): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tui-drafts-"))
    dirs.push(dir)
    return path.join(dir, "ui-state.json")
  }

  it("round-trips drafts, and reads a file written before drafts were kept", () => {
    const file = tempFile()
    const problems: string[] = []
    const store = fileUiStateStore(file, (message) => problems.push(message))
    store.save({ readCounts: { t: 3 }, lastBuffer: "@alice", drafts: { "@alice": "half\na thought", "#team": "hi" } })
    expect(store.load()).toEqual({ readCounts: { t: 3 }, lastBuffer: "@alice", drafts: { "@alice": "half\na thought", "#team": "hi" } })
    fs.writeFileSync(file, JSON.stringify({ version: 1, readCounts: {}, lastBuffer: null }))
    expect(store.load()).toEqual({ readCounts: {}, lastBuffer: null })
    expect(problems).toEqual([])
  })

  it("never writes what it would refuse to read: oversized drafts and keys are left out", () => {
    const file = tempFile()
    const problems: string[] = []
    const store = fileUiStateStore(file, (message) => problems.push(message))
    const many = Object.fromEntries(Array.from({ length: MAX_SAVED_DRAFTS + 10 }, (_, n) => [`@user-${n}`, `d${n}`]))
    store.save({ readCounts: {}, lastBuffer: null, drafts: { ...many, ["@" + "k".repeat(100)]: "x", "@big": "y".repeat(MAX_SAVED_DRAFT_CHARS + 1) } })
    const loaded = store.load()
    expect(problems).toEqual([])
    expect(Object.keys(loaded?.drafts ?? {})).toHaveLength(MAX_SAVED_DRAFTS)
    expect(loaded?.drafts?.["@big"]).toBeUndefined()
  })

  it("a file with too large a draft is ignored as a whole and reported", () => {
    const file = tempFile()
    const problems: string[] = []
    fs.writeFileSync(file, JSON.stringify({ version: 1, readCounts: {}, lastBuffer: null, drafts: { "@a": "z".repeat(MAX_SAVED_DRAFT_CHARS + 1) } }))
    expect(fileUiStateStore(file, (message) => problems.push(message)).load()).toBeNull()
    expect(problems).toHaveLength(1)
  })
})

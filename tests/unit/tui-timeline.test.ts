/** A buffer's lines: order of messages and notes, the "earlier" divider, day separators, paging state, and inert text. */
import { describe, expect, it } from "vitest"
import { ChatBuffer, MAX_LOADED_MESSAGES } from "../../adapters/tui/chat-buffer.ts"
import type { ChatMessage } from "../../adapters/tui/chat-port.ts"
import { buildTimeline, EARLIER_DIVIDER, mergeItems, renderTimeline } from "../../adapters/tui/timeline.ts"
import type { Topic, UserId } from "../../domain/ids.ts"

const ME = "user-1"
const PEER = "user-2"
const DAY = 24 * 60 * 60 * 1000
const NOON = new Date(2025, 4, 14, 12, 0).getTime()

const message = (seq: number, text: string, at = NOON + seq * 60_000, mine = seq % 2 === 0): ChatMessage => ({
  seq,
  id: `message${String(seq).padStart(8, "0")}`,
  topic: "1_2_talk" as Topic,
  from: (mine ? ME : PEER) as UserId,
  text,
  at,
  mine,
})

const buffer = (restoredUpTo: number) => new ChatBuffer(`@${PEER}`, { kind: "peer", user: PEER }, restoredUpTo)

describe("ChatBuffer", () => {
  it("merges pages by sequence number without duplicates; older pages set hasOlder", () => {
    const b = buffer(0)
    b.mergePage([message(5, "e"), message(6, "f")], true, false)
    b.mergePage([message(6, "f"), message(7, "g")], false, false)
    expect(b.messages.map((m) => m.seq)).toEqual([5, 6, 7])
    expect(b.hasOlder).toBe(true)
    b.mergePage([message(3, "c"), message(4, "d")], false, true)
    expect(b.messages.map((m) => m.seq)).toEqual([3, 4, 5, 6, 7])
    expect(b.hasOlder).toBe(false)
    expect(b.oldestSeq).toBe(3)
    expect(b.newestSeq).toBe(7)
  })

  it("stays within MAX_LOADED_MESSAGES: live traffic pushes the oldest out", () => {
    const b = buffer(0)
    const many = Array.from({ length: MAX_LOADED_MESSAGES + 10 }, (_, i) => message(i + 1, "x"))
    b.mergePage(many, false, false)
    expect(b.messages).toHaveLength(MAX_LOADED_MESSAGES)
    expect(b.oldestSeq).toBe(11)
    expect(b.hasOlder).toBe(true)
    expect(b.roomForOlder).toBe(0)
  })
})

describe("renderTimeline", () => {
  it("puts the earlier divider after what was in the log at start, and notes in log order", () => {
    const b = buffer(2)
    b.mergePage([message(1, "old one"), message(2, "old two"), message(3, "new")], false, false)
    b.addNote({ at: NOON + 150_000, text: `${PEER} is online`, level: "event", anchorSeq: 2 })
    const lines = renderTimeline(b, ME)
    const index = (needle: string) => lines.findIndex((line) => line.includes(needle))
    expect(index("start of the conversation")).toBe(0)
    expect(index("old two")).toBeLessThan(index(EARLIER_DIVIDER))
    expect(index(EARLIER_DIVIDER)).toBeLessThan(index("is online"))
    expect(index("is online")).toBeLessThan(index("new"))
    expect(lines[index("old one")]).toMatch(/12:01.*<user-2>.*old one/)
  })

  it("a fully restored conversation ends with the divider; day changes get a separator", () => {
    const b = buffer(10)
    b.mergePage([message(1, "yesterday", NOON - DAY), message(2, "today", NOON)], true, false)
    const lines = renderTimeline(b, ME)
    expect(lines[0]).toMatch(/PgUp or mouse wheel: older messages/)
    expect(lines.filter((line) => /── .*2025 ──/.test(line))).toHaveLength(2)
    expect(lines[lines.length - 1]).toContain(EARLIER_DIVIDER)
  })

  it("peer text cannot open a tag or reach the terminal; lines of a message stay indented", () => {
    const b = buffer(0)
    b.mergePage([message(1, "{red-fg}x\u001b]0;title\u0007\nsecond")], false, false)
    const lines = renderTimeline(b, ME)
    const first = lines.find((line) => line.includes("x")) ?? ""
    expect(first).toContain("{open}red-fg{close}x")
    expect(first).not.toContain("\u001b")
    const second = lines.find((line) => line.endsWith("second")) ?? ""
    expect(second.startsWith(" ".repeat(10))).toBe(true)
  })

  it("notes without messages sort after everything loaded", () => {
    const items = mergeItems([message(1, "a")], [{ at: NOON, text: "n", level: "info", anchorSeq: 0 }, { at: NOON, text: "m", level: "info", anchorSeq: 5 }])
    expect(items.map((item) => (item.kind === "message" ? item.message.text : item.note.text))).toEqual(["n", "a", "m"])
  })
})

describe("momentLabel", () => {
  it("is the timeline's HH:MM after a short day, and renders any stored time", async () => {
    const { momentLabel, timeOfDay } = await import("../../adapters/tui/timeline.ts")
    const at = new Date(2026, 11, 3, 21, 17, 18).getTime()
    expect(momentLabel(at).endsWith(` ${timeOfDay(at)}`)).toBe(true)
    expect(momentLabel(at)).not.toMatch(/:18|AM|PM/)
    expect(momentLabel(9007199254740991)).toBe("unknown date --:--")
  })
})

describe("delivery marks", () => {
  it("my messages end with ○ until the broker acknowledged them, then ✓; others' carry none", () => {
    const b = buffer(0)
    b.mergePage([message(1, "theirs"), message(2, "mine, sent"), message(4, "mine,\nwaiting")], false, false)
    const lines = renderTimeline(b, ME, (id) => id === message(4, "").id)
    const plain = lines.map((line) => line.replace(/\{[^}]*\}/g, ""))
    expect(plain.find((l) => l.includes("theirs"))).toMatch(/theirs$/)
    expect(plain.find((l) => l.includes("mine, sent"))).toMatch(/mine, sent ✓$/)
    expect(plain.some((l) => /^ +waiting ○$/.test(l))).toBe(true)
    expect(plain.find((l) => l.includes("mine,") && !l.includes("sent"))).toMatch(/<user-1> mine,$/)
  })
})

describe("jumping to a message", () => {
  it("knows the line each message starts at, and highlights only the one asked", () => {
    const b = buffer(0)
    b.mergePage([message(1, "one"), message(2, "two\nlines"), message(3, "three")], false, false)
    const { lines, lineOfSeq } = buildTimeline(b, ME, { highlightSeq: 2 })
    expect(lines[lineOfSeq.get(1)!]).toContain("one")
    expect(lines[lineOfSeq.get(3)!]).toContain("three")
    const start = lineOfSeq.get(2)!
    expect(lines.slice(start, start + 2).every((line) => line.startsWith("{inverse}"))).toBe(true)
    expect(lines.filter((line) => line.startsWith("{inverse}"))).toHaveLength(2)
  })
})

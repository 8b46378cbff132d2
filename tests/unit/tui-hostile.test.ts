/**
 * What the screen makes of hostile input (issue 7): a stored message whose time no Date can hold
 * (written before the wire bounded `ts`) renders; zero-width and filler characters are made visible.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { ChatBuffer } from "../../adapters/tui/chat-buffer.ts"
import type { ChatMessage } from "../../adapters/tui/chat-port.ts"
import { cleanPastedText, sanitizeText } from "../../adapters/tui/sanitize.ts"
import { dayKey, dayLabel, renderTimeline, timeOfDay } from "../../adapters/tui/timeline.ts"
import type { Topic, UserId } from "../../domain/ids.ts"

const message = (seq: number, at: number, text = "hello"): ChatMessage => ({
  seq,
  id: `message${String(seq).padStart(8, "0")}`,
  topic: "1_2_talk" as Topic,
  from: "user-2" as UserId,
  text,
  at,
  mine: false,
})

describe("times no Date can hold", () => {
  it("a conversation holding a message with ts 2^53 - 1 still renders", () => {
    const buffer = new ChatBuffer("@user-2", { kind: "peer", user: "user-2" }, 0)
    buffer.mergePage([message(1, Date.UTC(2025, 0, 1)), message(2, 9007199254740991, "boom"), message(3, -8.7e15), message(4, Date.UTC(2025, 0, 2))], false, false)
    const lines = renderTimeline(buffer, "user-1")
    expect(lines.some((l) => l.includes("boom"))).toBe(true)
    expect(lines.some((l) => l.includes("unknown date"))).toBe(true)
  })

  it("the time helpers are total (property)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer(), fc.constantFrom(8.64e15, 8.64e15 + 1, -8.64e15 - 1, Number.MAX_SAFE_INTEGER, NaN, Infinity)), (ms) => {
        expect(typeof timeOfDay(ms)).toBe("string")
        expect(typeof dayKey(ms)).toBe("string")
        expect(typeof dayLabel(ms)).toBe("string")
      }),
      { numRuns: 2000 },
    )
  })
})

describe("zero-width and filler characters", () => {
  const hidden = ["\u200b", "\u2060", "\ufeff", "\u3164", "\u115f", "\u1160", "\uffa0", "\u180e", "\u00ad", "\u034f", "\u2061", "\u2062", "\u2063", "\u2064", "\u17b4", "\u17b5", "\u{e0041}", "\u{e0001}", "\u200c", "\u200d"]

  it("are shown, never hidden, between ordinary letters", () => {
    for (const char of hidden) {
      const shown = sanitizeText(`pay${char}pal`)
      expect(shown, `U+${char.codePointAt(0)!.toString(16)}`).not.toContain(char)
      expect(shown).toBe(`pay<U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}>pal`)
    }
  })

  it("keep the joiners emoji and scripts need", () => {
    const family = "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}"
    expect(sanitizeText(family)).toBe(family)
    const persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    expect(sanitizeText(persian)).toBe(persian)
    const england = "\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}"
    expect(sanitizeText(england)).toBe(england)
  })

  it("are removed from a paste, except the joiners emoji and scripts need", () => {
    expect(cleanPastedText("pay\u200bpal\ufeff")).toBe("paypal")
    expect(cleanPastedText("\u{1f468}\u200d\u{1f469}")).toBe("\u{1f468}\u200d\u{1f469}")
  })

  it("nothing invisible outside an emoji or script joining context reaches the screen (property)", () => {
    const invisible = fc.constantFrom(...hidden)
    const letter = fc.constantFrom(..."abcXYZ019 -.")
    fc.assert(
      fc.property(fc.array(fc.oneof(invisible, letter), { maxLength: 60 }), (chars) => {
        const shown = sanitizeText(chars.join(""))
        for (const char of hidden) expect(shown).not.toContain(char)
      }),
      { numRuns: 2000 },
    )
  })
})

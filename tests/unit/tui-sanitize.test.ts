/** Nothing a peer sends can drive the terminal or blessed's markup: the sanitizer's cases and invariants. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { escapeTags, inert, inertLine, sanitizeText } from "../../adapters/tui/sanitize.ts"

/** What must never reach the screen: C0 (except LF), DEL, C1, bidi controls, lone surrogates. */
const FORBIDDEN = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

const ESC = "\u001b"

describe("sanitizeText", () => {
  it("removes SGR colours, cursor movement and screen clearing", () => {
    expect(sanitizeText(`${ESC}[31mred${ESC}[0m plain`)).toBe("red plain")
    expect(sanitizeText(`a${ESC}[2J${ESC}[H${ESC}[10;20Hb`)).toBe("ab")
    expect(sanitizeText(`x${ESC}[?1049hy`)).toBe("xy")
  })

  it("removes OSC title, clipboard (52) and hyperlink (8) sequences with either terminator", () => {
    expect(sanitizeText(`${ESC}]0;pwned\u0007hi`)).toBe("hi")
    expect(sanitizeText(`${ESC}]52;c;cm0gLXJmIH4=${ESC}\\after`)).toBe("after")
    expect(sanitizeText(`${ESC}]8;;https://evil.example${ESC}\\click${ESC}]8;;${ESC}\\`)).toBe("click")
  })

  it("removes DCS, APC and 8-bit CSI / OSC", () => {
    expect(sanitizeText(`${ESC}P+q544e${ESC}\\ok`)).toBe("ok")
    expect(sanitizeText(`${ESC}_payload${ESC}\\ok`)).toBe("ok")
    expect(sanitizeText("\u009b31mred")).toBe("red")
    expect(sanitizeText("\u009d0;title\u009cok")).toBe("ok")
  })

  it("makes a lone or unterminated escape visible instead of passing it through", () => {
    const out = sanitizeText(`${ESC}]0;never ends`)
    expect(out).not.toMatch(FORBIDDEN)
    expect(out).toContain("never ends")
    expect(sanitizeText(`end${ESC}`)).toBe("end\u241b")
  })

  it("shows NUL, BS, CR and BEL as control pictures; keeps line feeds; expands tabs", () => {
    expect(sanitizeText("a\u0000b")).toBe("a\u2400b")
    expect(sanitizeText("secret\b\b\b\b\b\bpublic")).toBe(`secret${"\u2408".repeat(6)}public`)
    expect(sanitizeText("overwrite\rme")).toBe("overwrite\u240dme")
    expect(sanitizeText("ding\u0007")).toBe("ding\u2407")
    expect(sanitizeText("one\r\ntwo\nthree")).toBe("one\ntwo\nthree")
    expect(sanitizeText("a\tb")).toBe("a    b")
    expect(sanitizeText("del\u007f")).toBe("del\u2421")
  })

  it("drops bidi overrides and isolates (Trojan Source)", () => {
    expect(sanitizeText("abc\u202edcba\u202c")).toBe("abcdcba")
    expect(sanitizeText("\u2066x\u2069\u2067y\u2068z")).toBe("xyz")
  })

  it("replaces lone surrogates and keeps real pairs", () => {
    expect(sanitizeText("a\ud83d")).toBe("a\ufffd")
    expect(sanitizeText("\ude00b")).toBe("\ufffdb")
    expect(sanitizeText("smile \ud83d\ude00")).toBe("smile \ud83d\ude00")
  })

  it("one-line form turns line breaks into a visible mark; maxLength cuts with an ellipsis", () => {
    expect(sanitizeText("a\nb", { keepNewlines: false })).toBe("a\u21b5 b")
    expect(sanitizeText("abcdefgh", { maxLength: 5 })).toBe("abcd…")
  })

  it("keeps ordinary text, accents, CJK and emoji as they are", () => {
    const text = "Grüße, 你好, مرحبا, 👍🏽 — {braces} and [brackets]"
    expect(sanitizeText(text)).toBe(text)
  })

  it("never lets a forbidden character through (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
        expect(sanitizeText(text)).not.toMatch(FORBIDDEN)
        expect(inertLine(text)).not.toMatch(/\n/)
      }),
      { numRuns: 2000 },
    )
  })

  it("leaves an escape-free, control-free string unchanged (property)", () => {
    const safeChar = fc.constantFrom(...Array.from("abcXYZ 019 -_.,!?é你👍{}[]"))
    fc.assert(fc.property(fc.array(safeChar, { maxLength: 80 }).map((chars) => chars.join("")), (text) => {
      expect(sanitizeText(text)).toBe(text)
    }))
  })
})

describe("escapeTags", () => {
  it("turns braces into blessed's literal tokens", () => {
    expect(escapeTags("{red-fg}x{/red-fg}")).toBe("{open}red-fg{close}x{open}/red-fg{close}")
    expect(inert("{bold}\u001b[1mhi")).toBe("{open}bold{close}hi")
  })

  it("round-trips: un-escaping gives the text back, and no other tag remains (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (text) => {
        const escaped = escapeTags(text)
        const withoutTokens = escaped.replace(/\{open\}|\{close\}/g, "")
        expect(withoutTokens).not.toMatch(/[{}]/)
        expect(escaped.replace(/\{open\}|\{close\}/g, (token) => (token === "{open}" ? "{" : "}"))).toBe(text)
      }),
    )
  })
})

/**
 * Text fitted, wrapped and edited by terminal columns, for any mix of the clusters terminals get
 * wrong (emoji with modifiers, ZWJ sequences, flags, CJK, combining marks, format characters):
 * a fitted line is exactly as wide as asked, a wrapped line loses nothing and splits no cluster,
 * and the input line's view fits with the cursor inside it.
 */
import { sanitizeText } from "../../adapters/tui/sanitize.ts"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { LineEditor } from "../../adapters/tui/line-editor.ts"
import { seg, styledLine } from "../../adapters/tui/styled.ts"
import { displayCluster, displayWidth, graphemes } from "../../adapters/tui/text-width.ts"
import { wrapTaggedLines } from "../../adapters/tui/wrap.ts"
import { NUM_RUNS } from "../support/properties.ts"

const CLUSTERS = ["a", "b", " ", "é", "e\u0301", "我", "带", "👍", "👍🏽", "🇧🇷", "🇧", "👨‍👩‍👧", "❤️", "1️⃣", "🏳️‍🌈", "ก้", "—", "\u200b", "x\u200d", "{", "}"] as const
const text = (maxLength: number) => fc.array(fc.constantFrom(...CLUSTERS), { maxLength }).map((parts) => parts.join(""))
/** What blessed shows of tagged text: tags removed, escaped braces restored. */
const visible = (tagged: string) => tagged.replace(/\{\/?[\w\-,;!#]*\}/g, (tag) => (tag === "{open}" ? "{" : tag === "{close}" ? "}" : ""))
const hasWide = (s: string) => graphemes(s).some((g) => displayWidth(g) === 2)

/** Code points from the scripts and symbols whose clusters span several code points, and any code point at all. */
const joiningPoint = fc.oneof(
  fc.constantFrom(0x61, 0x20, 0xe9, 0x4e00, 0xac00, 0x1100, 0x1161, 0x11a8, 0xa960, 0xd7b0, 0x0e01, 0x0e31, 0x0e33, 0x0915, 0x094d, 0x093f, 0x0937, 0x200d, 0x200c, 0xfe0f, 0x20e3, 0x0301),
  fc.constantFrom(0x1f44d, 0x1f3fd, 0x1f468, 0x1f469, 0x1f3f3, 0x1f308, 0x1f1e7, 0x1f1f7, 0x1f1e6, 0x0600, 0x0d4e, 0x111c2, 0xe0067, 0xe007f, 0x0d, 0x0a, 0xff9e, 0x09be, 0x1f3f4, 0x2028, 0x2065, 0xfff0, 0xe0000, 0x115f, 0x3164),
  fc.integer({ min: 0, max: 0x10ffff }).filter((p) => p < 0xd800 || p > 0xdfff),
)
const intlGraphemes = (text: string) => Array.from(new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text), (s) => s.segment)

describe("text by terminal columns", () => {
  it("splits text into the grapheme clusters Intl.Segmenter finds, segmenting only what may join", () => {
    let joined = 0
    fc.assert(
      fc.property(fc.array(joiningPoint, { maxLength: 24 }), (points) => {
        const text = String.fromCodePoint(...points)
        const expected = intlGraphemes(text)
        if (expected.some((g) => [...g].length > 1)) joined += 1
        expect(graphemes(text)).toEqual(expected)
      }),
      { numRuns: NUM_RUNS * 5 },
    )
    expect(joined).toBeGreaterThan(NUM_RUNS)
  })

  it("styledLine is exactly the width asked, cut only between clusters", () => {
    let cut = 0
    fc.assert(
      fc.property(fc.array(fc.record({ text: text(12), grey: fc.boolean() }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 40 }), (parts, width) => {
        const line = visible(styledLine(parts.map((p) => seg(p.text, p.grey ? { fg: "grey" } : {})), width))
        // What the screen is given: sanitized (invisible characters shown as <U+XXXX>, sanitize.ts).
        const whole = sanitizeText(parts.map((p) => p.text).join(""), { keepNewlines: false })
        if (displayWidth(whole) > width) cut += 1
        expect(displayWidth(line)).toBe(width)
        // What is shown is the input's first clusters as drawn: none cut in half, in order.
        const shown = line.replace(/…? *$/, "").trimEnd()
        const drawn = graphemes(whole).map((g) => displayCluster(g).text)
        const prefixes = drawn.map((_, k) => drawn.slice(0, k + 1).join("").trimEnd())
        expect(shown === "" || prefixes.includes(shown), JSON.stringify({ shown, drawn })).toBe(true)
      }),
      { numRuns: NUM_RUNS },
    )
    expect(cut).toBeGreaterThan(NUM_RUNS / 5)
  })

  it("wrapped lines keep every cluster, whole and in order, each row within the width", () => {
    let wrapped = 0
    fc.assert(
      // From 4 columns, the widest cluster here (a skin-tone emoji) fits a row.
      fc.property(text(60), fc.integer({ min: 4, max: 30 }), (line, width) => {
        const tagged = `{grey-fg}12:00{/grey-fg} ${line.replace(/[{}]/g, (b) => (b === "{" ? "{open}" : "{close}"))}`
        const rows = wrapTaggedLines([tagged], width)
        if (rows.length > 1 && hasWide(line)) wrapped += 1
        for (const row of rows) expect(displayWidth(visible(row))).toBeLessThanOrEqual(width)
        expect(rows.map(visible).join("")).toBe(visible(tagged))
        expect(rows.flatMap((row) => graphemes(visible(row)))).toEqual(graphemes(visible(tagged)))
      }),
      { numRuns: NUM_RUNS },
    )
    expect(wrapped).toBeGreaterThan(NUM_RUNS / 8)
  })

  it("the input line's view fits its width and holds the cursor, whatever was typed and edited", () => {
    type Op = { readonly kind: "insert"; readonly text: string } | { readonly kind: "left" | "right" | "backspace" | "deleteForward" | "home" | "end" | "killToEnd" | "deleteWordBack" }
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: text(6).map((t) => ({ kind: "insert" as const, text: t })) },
      fc.constantFrom<Op>({ kind: "left" }, { kind: "right" }, { kind: "backspace" }, { kind: "deleteForward" }, { kind: "home" }, { kind: "end" }, { kind: "killToEnd" }, { kind: "deleteWordBack" }),
    )
    let scrolled = 0
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), fc.integer({ min: 4, max: 24 }), (ops, width) => {
        const editor = new LineEditor(500, 10)
        for (const o of ops) {
          if (o.kind === "insert") editor.insert(o.text)
          else editor[o.kind]()
          const view = editor.view(width)
          expect(displayWidth(view.text)).toBeLessThanOrEqual(width)
          expect(view.cursorColumn).toBeGreaterThanOrEqual(0)
          expect(view.cursorColumn).toBeLessThan(width)
          // The cursor is always between clusters: the text before it is whole clusters of the line.
          expect(graphemes(editor.text).length).toBe(editor.length)
        }
        if (displayWidth(editor.text) > width) scrolled += 1
      }),
      { numRuns: NUM_RUNS },
    )
    expect(scrolled).toBeGreaterThan(NUM_RUNS / 10)
  })
})

/** Long lines split into numbered messages (split-message.ts): examples, then properties. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { MAX_LINE_CHARS, MAX_MESSAGE_PARTS, partMark, splitMessage } from "../../adapters/tui/split-message.ts"
import { graphemes } from "../../adapters/tui/text-width.ts"
import { MAX_TEXT_CHARS } from "../../domain/wire/messages.ts"
import { NUM_RUNS } from "../support/properties.ts"

const bodiesOf = (result: ReturnType<typeof splitMessage>) => (result.ok ? result.bodies : [])

describe("splitMessage", () => {
  it("leaves a line that fits alone, unnumbered", () => {
    expect(splitMessage("hello")).toEqual({ ok: true, parts: ["hello"], bodies: ["hello"] })
    const full = "x".repeat(MAX_TEXT_CHARS)
    expect(splitMessage(full)).toEqual({ ok: true, parts: [full], bodies: [full] })
  })

  it("numbers the parts ¹/₃ ²/₃ ³/₃ and ends them after a word", () => {
    const words = Array.from({ length: 1_200 }, (_, i) => `word${i}`).join(" ")
    const result = splitMessage(words)
    if (!result.ok) throw new Error(result.error)
    expect(result.parts).toHaveLength(3)
    expect(result.parts.map((p) => p.slice(0, 4))).toEqual(["¹/₃ ", "²/₃ ", "³/₃ "])
    for (const body of result.bodies.slice(0, -1)) expect(body.endsWith(" ")).toBe(true)
    expect(result.bodies.join("")).toBe(words)
    expect(partMark(12, 15)).toBe("¹²/₁₅ ")
  })

  it("cuts a word only when no blank is near the end, and never a cluster", () => {
    const flags = "🇧🇷".repeat(3_000)
    const result = splitMessage(flags)
    if (!result.ok) throw new Error(result.error)
    for (const body of result.bodies) expect(body.length % 4).toBe(0)
    expect(result.bodies.join("")).toBe(flags)
  })

  it("refuses more than MAX_MESSAGE_PARTS parts, and a cluster longer than a part", () => {
    expect(splitMessage("y".repeat(MAX_TEXT_CHARS * MAX_MESSAGE_PARTS + 1)).ok).toBe(false)
    expect(splitMessage(`a${"\u0301".repeat(50)}`, 20).ok).toBe(false)
    // What the input line may hold always fits, even made of the longest common clusters.
    const family = "👨‍👩‍👧"
    expect(splitMessage(family.repeat(Math.floor(MAX_LINE_CHARS / family.length))).ok).toBe(true)
    expect(splitMessage("z".repeat(MAX_LINE_CHARS)).ok).toBe(true)
  })

  const CLUSTERS = ["a", "b", " ", "\n", "é", "e\u0301", "我", "👍", "👍🏽", "🇧🇷", "👨‍👩‍👧", "🏳️‍🌈", "ก้"] as const
  /** Exactly `min`..`max` clusters, the length drawn uniformly (fast-check's default sizes stay small). */
  const clustersOf = (min: number, max: number) =>
    fc.integer({ min, max }).chain((n) => fc.array(fc.constantFrom(...CLUSTERS), { minLength: n, maxLength: n }))

  it("property: every part within the limit, no cluster cut, the bodies joined give the text", () => {
    let split = 0
    let wordEnds = 0
    fc.assert(
      fc.property(
        clustersOf(1, 400),
        fc.integer({ min: 24, max: 120 }),
        (clusters, limit) => {
          const text = clusters.join("")
          const result = splitMessage(text, limit, 1_000)
          if (!result.ok) throw new Error(result.error)
          expect(result.bodies.join("")).toBe(text)
          for (const part of result.parts) expect(part.length).toBeLessThanOrEqual(limit)
          // No cluster cut: the parts' clusters are the text's, in order.
          expect(result.bodies.flatMap((b) => graphemes(b))).toEqual(graphemes(text))
          if (result.parts.length > 1) {
            split += 1
            result.parts.forEach((part, i) => expect(part.startsWith(partMark(i + 1, result.parts.length))).toBe(true))
            if (result.bodies.slice(0, -1).some((b) => /\s$/.test(b))) wordEnds += 1
          }
        },
      ),
      { numRuns: NUM_RUNS },
    )
    expect(split).toBeGreaterThan(NUM_RUNS / 2)
    expect(wordEnds).toBeGreaterThan(NUM_RUNS / 4)
  })

  it("property: a text of at most MAX_LINE_CHARS always splits within MAX_MESSAGE_PARTS", () => {
    let long = 0
    fc.assert(
      fc.property(clustersOf(1, 200), fc.integer({ min: 1, max: MAX_LINE_CHARS }), (unit, length) => {
        const source = unit.join("")
        const text = source.repeat(Math.ceil(length / source.length))
        const trimmed = graphemes(text).reduce((acc, g) => (acc.length + g.length <= length ? acc + g : acc), "")
        if (trimmed.length === 0) return
        const result = splitMessage(trimmed)
        if (trimmed.length > MAX_TEXT_CHARS * 5) long += 1
        expect(result.ok).toBe(true)
        expect(bodiesOf(result).join("")).toBe(trimmed)
      }),
      { numRuns: 100 },
    )
    expect(long).toBeGreaterThan(20)
  })
})

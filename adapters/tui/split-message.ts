/**
 * A line longer than one message may hold (MAX_TEXT_CHARS, UTF-16 units as the domain counts) is
 * sent as several, numbered as chat clients do: "¹/₃ …", "²/₃ …", "³/₃ …". Pure.
 *
 * - A part ends between grapheme clusters, after a blank when one is near the end of the room
 *   (the last WORD_WINDOW of it), so parts stay nearly full and words whole.
 * - The bodies, joined, are the text exactly (the blank stays at the end of the part before).
 * - At most MAX_MESSAGE_PARTS parts; more is refused, as is a single cluster longer than a part.
 */
import { MAX_TEXT_CHARS } from "../../domain/wire/messages.ts"
import { graphemes } from "./text-width.ts"

export const MAX_MESSAGE_PARTS = 10
/** What the input line holds at most: every such line splits into MAX_MESSAGE_PARTS parts or fewer. */
export const MAX_LINE_CHARS = 9 * (MAX_TEXT_CHARS - 100)
/** A blank this close to a part's end (a fraction of its room) is where the part ends. */
const WORD_WINDOW = 0.1

const SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹"
const SUBSCRIPT = "₀₁₂₃₄₅₆₇₈₉"
const digitsIn = (n: number, digits: string): string => [...String(n)].map((d) => digits[Number(d)] ?? d).join("")

/** "²/₃ ": part 2 of 3. */
export const partMark = (n: number, total: number): string => `${digitsIn(n, SUPERSCRIPT)}/${digitsIn(total, SUBSCRIPT)} `

export type SplitResult =
  | { readonly ok: true; readonly parts: ReadonlyArray<string>; readonly bodies: ReadonlyArray<string> }
  | { readonly ok: false; readonly error: string }

const isBlank = (cluster: string): boolean => /^\s+$/u.test(cluster)

/** Bodies of at most `room` units each, greedily; null when one cluster alone exceeds it. */
const bodiesWithin = (clusters: ReadonlyArray<string>, room: number, maxBodies: number): string[] | null => {
  const bodies: string[] = []
  let start = 0
  // Each pass ends one body of at least one cluster: at most clusters.length passes.
  while (start < clusters.length && bodies.length <= maxBodies) {
    let end = start
    let length = 0
    let lastBlankEnd = -1
    let lengthAtBlank = 0
    while (end < clusters.length && length + clusters[end]!.length <= room) {
      length += clusters[end]!.length
      end += 1
      if (isBlank(clusters[end - 1]!)) {
        lastBlankEnd = end
        lengthAtBlank = length
      }
    }
    if (end === start) return null
    if (end < clusters.length && lastBlankEnd > start && lengthAtBlank >= room * (1 - WORD_WINDOW)) end = lastBlankEnd
    bodies.push(clusters.slice(start, end).join(""))
    start = end
  }
  return bodies
}

/** `text` as the messages to send, in order: itself when it fits, else numbered parts. */
export const splitMessage = (text: string, limit: number = MAX_TEXT_CHARS, maxParts: number = MAX_MESSAGE_PARTS): SplitResult => {
  if (text.length <= limit) return { ok: true, parts: [text], bodies: [text] }
  const clusters = graphemes(text)
  // Try each total in turn: the marks' room depends on how many digits the total has.
  for (let total = 2; total <= maxParts; total++) {
    const room = limit - partMark(total, total).length
    const bodies = bodiesWithin(clusters, room, total)
    if (bodies === null) return { ok: false, error: `one character of the message is longer than a message may be (${limit})` }
    if (bodies.length > total) continue
    const parts = bodies.map((body, i) => partMark(i + 1, bodies.length) + body)
    return { ok: true, parts, bodies }
  }
  return { ok: false, error: `too long: ${text.length} characters need more than ${maxParts} messages of ${limit}` }
}

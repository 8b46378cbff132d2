/**
 * A line built from segments, each with an optional colour, fitted to a width by its visible text
 * and only then turned into blessed tags, so markup never counts as width and never gets cut in half.
 */
import { escapeTags, sanitizeText } from "./sanitize.ts"
import { displayWidth, fitPrefix } from "./text-width.ts"

export interface Segment {
  readonly text: string
  readonly fg?: string
  readonly bold?: boolean
  readonly inverse?: boolean
}

export const seg = (text: string, style: Omit<Segment, "text"> = {}): Segment => ({ text, ...style })

const wrap = (segment: Segment, text: string): string => {
  let out = escapeTags(text)
  if (segment.bold === true) out = `{bold}${out}{/bold}`
  if (segment.inverse === true) out = `{inverse}${out}{/inverse}`
  if (segment.fg !== undefined) out = `{${segment.fg}-fg}${out}{/${segment.fg}-fg}`
  return out
}

/**
 * Tagged text exactly `width` columns wide when `pad`, otherwise at most that wide; a cut ends
 * with "…". Segment text is sanitized as one line: callers may pass untrusted text.
 */
export const styledLine = (segments: ReadonlyArray<Segment>, width: number, pad = true): string => {
  if (width <= 0) return ""
  const clean = segments.map((s) => ({ ...s, text: sanitizeText(s.text, { keepNewlines: false }) }))
  const total = clean.reduce((sum, s) => sum + displayWidth(s.text), 0)
  const budget = total > width ? width - 1 : width
  let used = 0
  let out = ""
  for (const segment of clean) {
    if (used >= budget) break
    // Whole grapheme clusters only: a flag or an accented letter is never cut in half.
    const { text, width: fitted } = fitPrefix(segment.text, budget - used)
    used += fitted
    if (text.length > 0) out += wrap(segment, text)
    if (text.length < segment.text.length) break
  }
  if (total > width) {
    out += "…"
    used += 1
  }
  return pad && used < width ? out + " ".repeat(width - used) : out
}

/** Visible width of segments (before fitting). */
export const segmentsWidth = (segments: ReadonlyArray<Segment>): number => segments.reduce((sum, s) => sum + displayWidth(sanitizeText(s.text, { keepNewlines: false })), 0)

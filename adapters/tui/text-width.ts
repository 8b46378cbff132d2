/**
 * Terminal columns of text, by grapheme cluster (Intl.Segmenter): an emoji with a skin tone, a
 * flag, a letter with combining accents is one unit that is never cut in half, and takes the
 * columns unicode-width.ts says. Everything that pads, cuts, wraps or places the cursor measures
 * here, and terminal-cells.ts makes blessed draw exactly these widths.
 */
import { clusterWidth } from "./unicode-width.ts"

export { clusterWidth, codePointWidth, displayCluster } from "./unicode-width.ts"

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" })
/** Printable ASCII only: one column per character, no segmentation needed. */
const PLAIN_ASCII = /^[\x20-\x7e]*$/
/**
 * Code points that may join the one before or after them into a cluster (UAX #29): extending and
 * spacing marks, joiners and other format and ignorable characters, controls and line separators, regional indicators, Hangul
 * jamo, and the few prepended letters and spacing vowels that are not marks. Between two code
 * points outside this set there is always a cluster boundary (emoji modifiers count as extending).
 */
const JOINING =
  /[\p{Grapheme_Extend}\p{Emoji_Modifier}\p{Mc}\p{Cf}\p{Cc}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Regional_Indicator}\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff\u0e33\u0eb3\u0d4e\u{111c2}\u{111c3}\u{1193f}\u{11941}\u{11a3a}\u{11a84}-\u{11a89}\u{11d46}\u{11f02}\u{113d1}\u{16d63}\u{16d67}-\u{16d6a}]+/gu

/** A run that only extends the code point before it (accents, variation selectors, skin tones). */
const EXTENDING_ONLY = /^(?:(?![\u200d\u094d\u09cd\u0acd\u0b4d\u0c4d\u0d4d])[\p{Grapheme_Extend}\p{Emoji_Modifier}])+$/u
const REGIONAL_INDICATORS_ONLY = /^\p{Regional_Indicator}+$/u

/** The index after the code point at `index`. */
const nextIndex = (text: string, index: number): number => {
  const code = text.charCodeAt(index)
  return code >= 0xd800 && code <= 0xdbff && index + 1 < text.length ? index + 2 : index + 1
}

/** The index of the code point that ends just before `index`. */
const previousIndex = (text: string, index: number): number => {
  const code = text.charCodeAt(index - 1)
  return code >= 0xdc00 && code <= 0xdfff && index >= 2 ? index - 2 : index - 1
}

/**
 * Calls `each` with the grapheme clusters of `text`, in order. Code points that cannot join
 * anything are clusters by themselves; only runs of joining code points go through
 * Intl.Segmenter (the slow part), together with the code point on either side of the run (an
 * accent follows its letter, a joiner precedes the next emoji).
 */
const eachGrapheme = (text: string, each: (cluster: string) => void): void => {
  let pos = 0
  // Each turn consumes at least one code point.
  while (pos < text.length) {
    JOINING.lastIndex = pos
    const found = JOINING.exec(text)
    if (found === null) {
      for (const char of text.slice(pos)) each(char)
      return
    }
    const start = found.index > pos ? previousIndex(text, found.index) : pos
    for (const char of text.slice(pos, start)) each(char)
    const run = found[0]
    // The two common runs need no segmenter: marks on the letter before, and flags (pairs of indicators).
    if (EXTENDING_ONLY.test(run)) {
      each(text.slice(start, found.index + run.length))
      pos = found.index + run.length
      continue
    }
    if (REGIONAL_INDICATORS_ONLY.test(run)) {
      if (start < found.index) each(text.slice(start, found.index))
      // Each indicator is two UTF-16 units; a flag is two indicators.
      for (let i = 0; i < run.length; i += 4) each(run.slice(i, i + 4))
      pos = found.index + run.length
      continue
    }
    let end = found.index + found[0].length
    end = end < text.length ? nextIndex(text, end) : end
    // Runs one code point apart are segmented together.
    for (;;) {
      JOINING.lastIndex = end
      const next = JOINING.exec(text)
      if (next === null || next.index !== end) break
      end = next.index + next[0].length
      end = end < text.length ? nextIndex(text, end) : end
    }
    for (const { segment } of segmenter.segment(text.slice(start, end))) each(segment)
    pos = end
  }
}

/** The grapheme clusters of `text`, in order. */
export const graphemes = (text: string): ReadonlyArray<string> => {
  if (PLAIN_ASCII.test(text)) return Array.from(text)
  const out: string[] = []
  eachGrapheme(text, (cluster) => out.push(cluster))
  return out
}

/** Columns a string takes (line feeds count 0: measure one line at a time). */
export const displayWidth = (text: string): number => {
  if (PLAIN_ASCII.test(text)) return text.length
  let width = 0
  eachGrapheme(text, (cluster) => {
    width += cluster.length === 1 && cluster >= " " && cluster <= "~" ? 1 : clusterWidth(cluster)
  })
  return width
}

/** The longest prefix of `text` that fits in `columns`, whole clusters only, and its width. */
export const fitPrefix = (text: string, columns: number): { readonly text: string; readonly width: number } => {
  if (PLAIN_ASCII.test(text)) {
    const cut = text.slice(0, Math.max(0, columns))
    return { text: cut, width: cut.length }
  }
  let width = 0
  let end = 0
  let full = false
  eachGrapheme(text, (cluster) => {
    if (full) return
    const w = clusterWidth(cluster)
    if (width + w > columns) {
      full = true
      return
    }
    width += w
    end += cluster.length
  })
  return { text: text.slice(0, end), width }
}

/** Pads or cuts `text` to exactly `columns` (a cut ends with "…"). */
export const fitColumns = (text: string, columns: number): string => {
  if (columns <= 0) return ""
  const width = displayWidth(text)
  if (width <= columns) return text + " ".repeat(columns - width)
  const cut = fitPrefix(text, columns - 1)
  return `${cut.text}…${" ".repeat(Math.max(0, columns - 1 - cut.width))}`
}

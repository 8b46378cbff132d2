/**
 * Terminal columns of text, by grapheme cluster (Intl.Segmenter): an emoji with a skin tone, a
 * flag, a letter with combining accents is one unit that is never cut in half, and takes the
 * columns unicode-width.ts says. Everything that pads, cuts, wraps or places the cursor measures
 * here, and terminal-cells.ts makes blessed draw exactly these widths.
 */
import { clusterWidth, displayCluster } from "./unicode-width.ts"

export { clusterWidth, codePointWidth, displayCluster } from "./unicode-width.ts"

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" })
/** Printable ASCII only: one column per character, no segmentation needed. */
const PLAIN_ASCII = /^[\x20-\x7e]*$/

/** The grapheme clusters of `text`, in order. */
export const graphemes = (text: string): ReadonlyArray<string> => {
  if (PLAIN_ASCII.test(text)) return Array.from(text)
  const out: string[] = []
  for (const { segment } of segmenter.segment(text)) out.push(segment)
  return out
}

/** Columns a string takes (line feeds count 0: measure one line at a time). */
export const displayWidth = (text: string): number => {
  if (PLAIN_ASCII.test(text)) return text.length
  let width = 0
  for (const { segment } of segmenter.segment(text)) width += clusterWidth(segment)
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
  for (const { segment } of segmenter.segment(text)) {
    const w = displayCluster(segment).width
    if (width + w > columns) break
    width += w
    end += segment.length
  }
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

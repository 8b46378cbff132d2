/**
 * Terminal columns of text, measured the way blessed measures it when it draws (wide CJK and
 * emoji take two columns, combining marks none), so the cursor lands where the text is.
 */
import blessed from "blessed"

interface BlessedUnicode {
  charWidth(point: number): number
}

const unicode = (blessed as unknown as { readonly unicode: BlessedUnicode }).unicode

/** Columns one code point takes. */
export const codePointWidth = (point: number): number => unicode.charWidth(point)

/** Columns a string takes. */
export const displayWidth = (text: string): number => {
  let width = 0
  for (const char of text) width += codePointWidth(char.codePointAt(0) ?? 0)
  return width
}

/** The longest prefix of `text` that fits in `columns`, and its width. */
export const fitPrefix = (text: string, columns: number): { readonly text: string; readonly width: number } => {
  let width = 0
  let end = 0
  for (const char of text) {
    const w = codePointWidth(char.codePointAt(0) ?? 0)
    if (width + w > columns) break
    width += w
    end += char.length
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

/**
 * `replay diagram --format svg`: the same diagram as the Mermaid text (diagram.ts builds one model
 * for both), drawn as a standalone SVG with no renderer to install: participants as boxes on top
 * and bottom, a lifeline each, one row per arrow or note, in causal order.
 *
 * Every label is chat text from the logs, so hostile: it is made inert (no control character,
 * escape sequence or bidi control), stripped of what XML 1.0 cannot hold, and escaped, so it can
 * only ever be the text of a <text> element. A label too long for its row is cut with "…" and the
 * whole of it (also escaped) goes into a <title>, which viewers show on hover.
 */
import { sanitizeText } from "../../adapters/tui/sanitize.ts"
import type { DiagramModel, DiagramRow } from "./diagram.ts"

const COLUMN_PX = 200
const MARGIN_PX = 20
const BOX_HEIGHT_PX = 32
const ROW_HEIGHT_PX = 34
const CHAR_PX = 7.2
const FONT = "font-family=\"ui-monospace, Menlo, Consolas, monospace\" font-size=\"12\""
/** A label is never longer than this, whatever the row's width. */
const MAX_LABEL_CHARS = 200

/** Characters XML 1.0 cannot carry at all (even as a character reference). */
const NOT_IN_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g
const XML_ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }

/** Text for an SVG element or attribute: printable, on one line, escaped. */
export const svgText = (text: string, maxChars = MAX_LABEL_CHARS): string =>
  sanitizeText(text, { keepNewlines: false, maxLength: maxChars }).replace(NOT_IN_XML, "").replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? "")

/** How many characters of a label fit in `widthPx`. */
const fitting = (widthPx: number): number => Math.max(8, Math.min(MAX_LABEL_CHARS, Math.floor(widthPx / CHAR_PX)))

const centre = (column: number): number => MARGIN_PX + column * COLUMN_PX + COLUMN_PX / 2

const label = (x: number, y: number, text: string, widthPx: number, anchor: "middle" | "start" = "middle"): string => {
  const chars = fitting(widthPx)
  const shown = svgText(text, chars)
  const whole = svgText(text)
  const title = shown === whole ? "" : `<title>${whole}</title>`
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${anchor}" ${FONT}>${title}${shown}</text>`
}

const arrowRow = (row: Extract<DiagramRow, { kind: "arrow" }>, columnOf: ReadonlyMap<string, number>, y: number): string => {
  const from = columnOf.get(row.from) ?? 0
  const to = columnOf.get(row.to) ?? 0
  const x1 = centre(from)
  const lineY = y + ROW_HEIGHT_PX - 8
  const classes = `arrow ${row.style}`
  const dash = row.style === "dashed" ? " stroke-dasharray=\"6 4\"" : ""
  if (from === to) {
    // To oneself: a small loop on the right of the lifeline.
    const path = `M${x1} ${lineY - 10} h30 v10 h-30`
    return `<g class="${classes}"><path d="${path}" fill="none" stroke="#333"${dash} marker-end="url(#head)"/>${label(x1 + 36, lineY - 2, row.label, COLUMN_PX - 40, "start")}</g>`
  }
  const x2 = centre(to)
  const direction = x2 > x1 ? 1 : -1
  const end = row.style === "lost" ? x2 - direction * 12 : x2 - direction * 2
  const cross = row.style === "lost"
    ? `<path d="M${end - 5} ${lineY - 5} l10 10 M${end - 5} ${lineY + 5} l10 -10" stroke="#b00" stroke-width="2"/>`
    : ""
  const head = row.style === "lost" ? "" : " marker-end=\"url(#head)\""
  // A label may run past its arrow's ends by half a column each side: text over a lifeline still reads.
  const width = Math.abs(x2 - x1) + COLUMN_PX
  return `<g class="${classes}"><line x1="${x1}" y1="${lineY}" x2="${end}" y2="${lineY}" stroke="#333"${dash}${head}/>${cross}${label((x1 + x2) / 2, lineY - 6, row.label, width - 8)}</g>`
}

/** Wide enough for its text (up to three columns), centred over its participants, inside the picture. */
const noteRow = (row: Extract<DiagramRow, { kind: "note" }>, columnOf: ReadonlyMap<string, number>, y: number, pictureWidth: number): string => {
  const columns = row.over.map((who) => columnOf.get(who) ?? 0)
  const spanLeft = MARGIN_PX + Math.min(...columns) * COLUMN_PX + 10
  const spanRight = MARGIN_PX + (Math.max(...columns) + 1) * COLUMN_PX - 10
  const wanted = Math.min(3 * COLUMN_PX, svgText(row.text).length * CHAR_PX + 16)
  const width = Math.min(pictureWidth - 2 * MARGIN_PX, Math.max(spanRight - spanLeft, wanted))
  const middle = (spanLeft + spanRight) / 2
  const left = Math.max(MARGIN_PX, Math.min(pictureWidth - MARGIN_PX - width, middle - width / 2))
  return `<g class="note"><rect x="${left.toFixed(1)}" y="${y + 4}" width="${width.toFixed(1)}" height="${ROW_HEIGHT_PX - 8}" fill="#fff8c4" stroke="#c9b458"/>${label(left + width / 2, y + ROW_HEIGHT_PX / 2 + 4, row.text, width - 8)}</g>`
}

const participantBox = (who: string, column: number, y: number): string => {
  const x = MARGIN_PX + column * COLUMN_PX + 10
  return `<g class="participant"><rect x="${x}" y="${y}" width="${COLUMN_PX - 20}" height="${BOX_HEIGHT_PX}" rx="4" fill="#e8eefc" stroke="#4a67b5"/>${label(centre(column), y + BOX_HEIGHT_PX / 2 + 4, who, COLUMN_PX - 28)}</g>`
}

/** The whole picture: one standalone SVG document. */
export const renderSvg = (model: DiagramModel): string => {
  const columnOf = new Map(model.participants.map((who, column) => [who, column]))
  const columns = Math.max(1, model.participants.length)
  const width = MARGIN_PX * 2 + columns * COLUMN_PX
  const top = MARGIN_PX
  const firstRow = top + BOX_HEIGHT_PX + 8
  const bottom = firstRow + model.rows.length * ROW_HEIGHT_PX + 8
  const height = bottom + BOX_HEIGHT_PX + MARGIN_PX
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    "<defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0 0 L10 5 L0 10 z\" fill=\"#333\"/></marker></defs>",
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ]
  model.participants.forEach((who, column) => {
    parts.push(`<line class="lifeline" x1="${centre(column)}" y1="${top + BOX_HEIGHT_PX}" x2="${centre(column)}" y2="${bottom}" stroke="#999" stroke-dasharray="3 3"/>`)
    parts.push(participantBox(who, column, top), participantBox(who, column, bottom))
  })
  model.rows.forEach((row, index) => {
    const y = firstRow + index * ROW_HEIGHT_PX
    parts.push(row.kind === "arrow" ? arrowRow(row, columnOf, y) : noteRow(row, columnOf, y, width))
  })
  parts.push("</svg>")
  return parts.join("\n")
}

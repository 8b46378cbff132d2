/**
 * A line built from segments, each with an optional colour, fitted to a width by its visible text
 * and only then turned into blessed tags, so markup never counts as width and never gets cut in half.
 */
import { escapeTags, sanitizeText } from "./sanitize.ts"
import { clusterWidth, displayCluster, displayWidth, graphemes } from "./text-width.ts"

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
 * The sanitized text of each segment as grapheme clusters of the whole line, each cluster given to
 * the segment it starts in: an accent or the second half of a flag at the start of a segment stays
 * with the cluster before it, so the line is measured as it is drawn.
 */
const clustersBySegment = (segments: ReadonlyArray<Segment>): ReadonlyArray<{ readonly segment: Segment; readonly clusters: ReadonlyArray<string> }> => {
  const clean = segments.map((s) => ({ ...s, text: sanitizeText(s.text, { keepNewlines: false }) }))
  const owned = clean.map((segment) => ({ segment, clusters: [] as string[] }))
  let index = 0
  let segmentEnd = clean[0]?.text.length ?? 0
  let offset = 0
  for (const cluster of graphemes(clean.map((s) => s.text).join(""))) {
    // Bounded by the number of segments over the whole walk.
    while (offset >= segmentEnd && index < clean.length - 1) segmentEnd += clean[++index]!.text.length
    owned[index]!.clusters.push(cluster)
    offset += cluster.length
  }
  return owned
}

/**
 * Tagged text exactly `width` columns wide when `pad`, otherwise at most that wide; a cut ends
 * with "…" and falls between clusters. Segment text is sanitized as one line: callers may pass
 * untrusted text. Clusters are written in the form they are drawn in (displayCluster).
 */
export const styledLine = (segments: ReadonlyArray<Segment>, width: number, pad = true): string => {
  if (width <= 0) return ""
  const owned = clustersBySegment(segments)
  const total = owned.reduce((sum, o) => o.clusters.reduce((w, c) => w + clusterWidth(c), sum), 0)
  const budget = total > width ? width - 1 : width
  let used = 0
  let out = ""
  let full = false
  for (const { segment, clusters } of owned) {
    let text = ""
    for (const cluster of clusters) {
      const shown = displayCluster(cluster)
      if (used + shown.width > budget) {
        full = true
        break
      }
      text += shown.text
      used += shown.width
    }
    if (text.length > 0) out += wrap(segment, text)
    if (full) break
  }
  if (total > width) {
    out += "…"
    used += 1
  }
  return pad && used < width ? out + " ".repeat(width - used) : out
}

/** Visible width of segments (before fitting). */
export const segmentsWidth = (segments: ReadonlyArray<Segment>): number =>
  displayWidth(segments.map((s) => sanitizeText(s.text, { keepNewlines: false })).join(""))

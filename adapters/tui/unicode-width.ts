/**
 * How many terminal columns a grapheme cluster takes: the one width model every part of the UI
 * uses to pad, cut, wrap and place the cursor (text-width.ts), and that the screen then draws
 * (terminal-cells.ts).
 *
 * The model is the terminal's, not Unicode's: tmux, screen, xterm and most Linux terminals give
 * each code point its C library `wcwidth` (2 for East Asian wide and emoji, 0 for combining and
 * format characters, 1 otherwise) and add up a cluster's code points, except that tmux also folds
 * a non-ASCII code point that follows a zero-width joiner into the cell before it. Measured in tmux
 * 3.3a on glibc 2.36: "👍🏽" is 4 columns (the skin tone is a cell of its own), "🇧🇷" 2 (one
 * per regional indicator), "👨‍👩‍👧" 2, "❤️" 1 (the variation selector adds nothing), "Ó" and
 * "Ó" 1, "我" 2. tests/e2e/chat-unicode.tmux.test.ts measures these again in tmux.
 *
 * Terminals that shape emoji sequences themselves (kitty, WezTerm) draw some of them narrower or
 * wider; the screen places every cluster at its own column, so such a mismatch costs a blank or a
 * clipped glyph, never the alignment of what follows.
 */

/**
 * Code points `wcwidth` makes 2 columns wide, as inclusive [first, last] pairs: generated from
 * glibc 2.36 (Unicode 14). Newer emoji (Emoji_Presentation in Node's Unicode data) count as wide too.
 */
const WIDE_RANGES: ReadonlyArray<number> = [
  0x1100, 0x115F, 0x231A, 0x231B, 0x2329, 0x232A, 0x23E9, 0x23EC, 0x23F0, 0x23F0, 0x23F3, 0x23F3,
  0x25FD, 0x25FE, 0x2614, 0x2615, 0x2648, 0x2653, 0x267F, 0x267F, 0x2693, 0x2693, 0x26A1, 0x26A1,
  0x26AA, 0x26AB, 0x26BD, 0x26BE, 0x26C4, 0x26C5, 0x26CE, 0x26CE, 0x26D4, 0x26D4, 0x26EA, 0x26EA,
  0x26F2, 0x26F3, 0x26F5, 0x26F5, 0x26FA, 0x26FA, 0x26FD, 0x26FD, 0x2705, 0x2705, 0x270A, 0x270B,
  0x2728, 0x2728, 0x274C, 0x274C, 0x274E, 0x274E, 0x2753, 0x2755, 0x2757, 0x2757, 0x2795, 0x2797,
  0x27B0, 0x27B0, 0x27BF, 0x27BF, 0x2B1B, 0x2B1C, 0x2B50, 0x2B50, 0x2B55, 0x2B55, 0x2E80, 0x2E99,
  0x2E9B, 0x2EF3, 0x2F00, 0x2FD5, 0x2FF0, 0x2FFB, 0x3000, 0x3029, 0x302E, 0x303E, 0x3041, 0x3096,
  0x309B, 0x30FF, 0x3105, 0x312F, 0x3131, 0x318E, 0x3190, 0x31E3, 0x31F0, 0x321E, 0x3220, 0xA48C,
  0xA490, 0xA4C6, 0xA960, 0xA97C, 0xAC00, 0xD7A3, 0xF900, 0xFA6D, 0xFA70, 0xFAD9, 0xFE10, 0xFE19,
  0xFE30, 0xFE52, 0xFE54, 0xFE66, 0xFE68, 0xFE6B, 0xFF01, 0xFF60, 0xFFE0, 0xFFE6, 0x16FE0, 0x16FE3,
  0x16FF0, 0x16FF1, 0x17000, 0x187F7, 0x18800, 0x18CD5, 0x18D00, 0x18D08, 0x1AFF0, 0x1AFF3, 0x1AFF5, 0x1AFFB,
  0x1AFFD, 0x1AFFE, 0x1B000, 0x1B122, 0x1B150, 0x1B152, 0x1B164, 0x1B167, 0x1B170, 0x1B2FB, 0x1F004, 0x1F004,
  0x1F0CF, 0x1F0CF, 0x1F18E, 0x1F18E, 0x1F191, 0x1F19A, 0x1F200, 0x1F202, 0x1F210, 0x1F23B, 0x1F240, 0x1F248,
  0x1F250, 0x1F251, 0x1F260, 0x1F265, 0x1F300, 0x1F320, 0x1F32D, 0x1F335, 0x1F337, 0x1F37C, 0x1F37E, 0x1F393,
  0x1F3A0, 0x1F3CA, 0x1F3CF, 0x1F3D3, 0x1F3E0, 0x1F3F0, 0x1F3F4, 0x1F3F4, 0x1F3F8, 0x1F43E, 0x1F440, 0x1F440,
  0x1F442, 0x1F4FC, 0x1F4FF, 0x1F53D, 0x1F54B, 0x1F54E, 0x1F550, 0x1F567, 0x1F57A, 0x1F57A, 0x1F595, 0x1F596,
  0x1F5A4, 0x1F5A4, 0x1F5FB, 0x1F64F, 0x1F680, 0x1F6C5, 0x1F6CC, 0x1F6CC, 0x1F6D0, 0x1F6D2, 0x1F6D5, 0x1F6D7,
  0x1F6DD, 0x1F6DF, 0x1F6EB, 0x1F6EC, 0x1F6F4, 0x1F6FC, 0x1F7E0, 0x1F7EB, 0x1F7F0, 0x1F7F0, 0x1F90C, 0x1F93A,
  0x1F93C, 0x1F945, 0x1F947, 0x1F9FF, 0x1FA70, 0x1FA74, 0x1FA78, 0x1FA7C, 0x1FA80, 0x1FA86, 0x1FA90, 0x1FAAC,
  0x1FAB0, 0x1FABA, 0x1FAC0, 0x1FAC5, 0x1FAD0, 0x1FAD9, 0x1FAE0, 0x1FAE7, 0x1FAF0, 0x1FAF6, 0x20000, 0x2A6DF,
  0x2A700, 0x2B738, 0x2B740, 0x2B81D, 0x2B820, 0x2CEA1, 0x2CEB0, 0x2EBE0, 0x2F800, 0x2FA1D, 0x30000, 0x3134A,
]

/** Format characters that `wcwidth` still gives a column (the soft hyphen, prepended number signs). */
const SPACING_FORMAT = new Set([0x00ad, 0x0600, 0x0601, 0x0602, 0x0603, 0x0604, 0x0605, 0x06dd, 0x070f, 0x0890, 0x0891, 0x08e2, 0x110bd, 0x110cd])

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]$/u
const EMOJI_PRESENTATION = /^\p{Emoji_Presentation}$/u
const UNASSIGNED = /^\p{Cn}$/u
const COMBINING_MARK = /[\p{Mn}\p{Me}]/u
export const ZERO_WIDTH_JOINER = 0x200d
const REGIONAL_INDICATOR_FIRST = 0x1f1e6
const REGIONAL_INDICATOR_LAST = 0x1f1ff
/** Shown for a code point no Unicode version this program knows has assigned (terminals differ on those). */
export const REPLACEMENT = "\ufffd"
/** Shown under a combining mark that has no base character (the convention of Unicode's charts). */
export const DOTTED_CIRCLE = "\u25cc"

const inWideTable = (point: number): boolean => {
  let low = 0
  let high = WIDE_RANGES.length / 2 - 1
  // Binary search over the pairs: at most log2(126) + 1 turns.
  while (low <= high) {
    const mid = (low + high) >> 1
    const first = WIDE_RANGES[mid * 2]!
    const last = WIDE_RANGES[mid * 2 + 1]!
    if (point < first) high = mid - 1
    else if (point > last) low = mid + 1
    else return true
  }
  return false
}

/** Columns one code point takes by itself: 0, 1 or 2. Controls take 0 (they are never drawn raw). */
export const codePointWidth = (point: number): number => {
  if (point < 0x20 || (point >= 0x7f && point < 0xa0)) return 0
  if (point < 0x300) return 1
  if ((point >= 0x1160 && point <= 0x11ff) || (point >= 0xd7b0 && point <= 0xd7ff)) return 0
  if (inWideTable(point)) return 2
  const char = String.fromCodePoint(point)
  if (ZERO_WIDTH.test(char)) return SPACING_FORMAT.has(point) ? 1 : 0
  if (point >= REGIONAL_INDICATOR_FIRST && point <= REGIONAL_INDICATOR_LAST) return 1
  return EMOJI_PRESENTATION.test(char) ? 2 : 1
}

export interface DisplayCluster {
  /** What to write to the terminal for the cluster (may be empty: nothing to draw). */
  readonly text: string
  readonly width: number
}

const NOTHING: DisplayCluster = { text: "", width: 0 }

/**
 * The form in which a grapheme cluster is drawn, and its width: a joiner at the end joins nothing
 * (and would make tmux fold the next cluster into this one), so it is dropped; a cluster of format
 * characters alone (a stray joiner, a zero-width space) draws nothing; combining marks without a
 * base get a dotted circle; unassigned code points are shown as U+FFFD.
 */
export const displayCluster = (cluster: string): DisplayCluster => {
  let text = cluster
  while (text.length > 0 && text.codePointAt(text.length - 1) === ZERO_WIDTH_JOINER) text = text.slice(0, -1)
  if (text.length === 0) return NOTHING
  let width = 0
  let afterJoiner = false
  let out = ""
  // Bounded by the cluster's code points.
  for (const char of text) {
    const point = char.codePointAt(0)!
    const shown = UNASSIGNED.test(char) ? REPLACEMENT : char
    if (!(afterJoiner && point > 0x7f)) width += codePointWidth(shown.codePointAt(0)!)
    afterJoiner = point === ZERO_WIDTH_JOINER
    out += shown
  }
  if (width > 0) return { text: out, width }
  return COMBINING_MARK.test(out) ? { text: DOTTED_CIRCLE + out, width: 1 } : NOTHING
}

/** Clusters seen recently and how they are drawn; cleared when full (chat text repeats its clusters). */
const CACHE_LIMIT = 8_192
const cache = new Map<string, DisplayCluster>()

/** displayCluster, remembered. */
export const shownCluster = (cluster: string): DisplayCluster => {
  let shown = cache.get(cluster)
  if (shown === undefined) {
    if (cache.size >= CACHE_LIMIT) cache.clear()
    shown = displayCluster(cluster)
    cache.set(cluster, shown)
  }
  return shown
}

/** Columns a grapheme cluster takes once drawn (see displayCluster). */
export const clusterWidth = (cluster: string): number => shownCluster(cluster).width

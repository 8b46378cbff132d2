/**
 * Text from the network is shown inert: nothing a peer sends may drive the terminal (escape
 * sequences set titles, write the clipboard with OSC 52, move the cursor, redefine keys), reorder
 * what is displayed (bidi overrides: "Trojan Source"), or speak blessed's own markup (`{red-fg}`).
 *
 * Two steps, kept separate so each is testable on its own:
 * - `sanitizeText` removes whole escape sequences and turns every remaining control character into
 *   a visible stand-in (U+2400 "control pictures"), so tampering is seen rather than hidden;
 * - `escapeTags` makes `{` and `}` literal for blessed widgets that parse tags.
 * `inert` does both: use it for every string that did not come from this program.
 *
 * Invisible characters — zero-width spaces and joiners, word joiners, the BOM, soft hyphens, the
 * Hangul and Mongolian fillers, tag characters — are made visible as `<U+200B>`, not removed: text
 * that would read "paypal" with a hidden character inside shows "pay<U+200B>pal", so the trick is
 * seen. Only where emoji and scripts need them do the joiners stay (a ZWJ between emoji, a ZWNJ or
 * ZWJ between letters of a script that is not ASCII, the tag characters of a subdivision flag).
 * Pasted text drops them instead (`cleanPastedText`): a paste must not hide text from its sender.
 */

/** CSI: ESC [ or the 8-bit U+009B, parameters, intermediates, one final byte. */
const CSI = "(?:\\u001b\\[|\\u009b)[\\u0030-\\u003f]*[\\u0020-\\u002f]*[\\u0040-\\u007e]"
/**
 * OSC, DCS, SOS, PM, APC (7-bit and 8-bit introducers) up to their terminator: BEL (OSC only, but
 * terminals accept it everywhere), ESC \ or the 8-bit ST. Unterminated strings are left to the
 * per-character pass, which makes the introducer visible.
 */
const STRING_SEQUENCE = "(?:\\u001b[\\]P_X^]|[\\u0090\\u0098\\u009d\\u009e\\u009f])[^\\u0007\\u001b\\u009c]*(?:\\u0007|\\u001b\\\\|\\u009c)"
/** Other escape sequences: ESC, intermediates (charset designations like `ESC ( B`), one final byte. */
const SHORT_ESCAPE = "\\u001b[\\u0020-\\u002f]*[\\u0030-\\u007e]"
const ESCAPE_SEQUENCES = new RegExp(`${STRING_SEQUENCE}|${CSI}|${SHORT_ESCAPE}`, "g")

/** Explicit bidi embeddings, overrides and isolates, plus the marks: they reorder what follows. */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g
const LINE_SEPARATORS = /\r\n|[\u2028\u2029]/g
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g
/** C0 except LF and TAB (handled on their own), DEL, and C1. */
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f\u0080-\u009f]/g

/**
 * Characters that take no room or show nothing, besides the controls above: soft hyphen, CGJ,
 * Hangul fillers, Khmer inherent vowels, Mongolian vowel separator, zero-width space, word joiner
 * and the invisible operators, deprecated format characters, BOM, halfwidth Hangul filler,
 * interlinear annotation, shorthand format controls, musical formatting, tag characters.
 */
const INVISIBLE_CLASS = "[\\u00ad\\u034f\\u115f\\u1160\\u17b4\\u17b5\\u180e\\u200b\\u2060-\\u2064\\u206a-\\u206f\\u3164\\ufeff\\uffa0\\ufff9-\\ufffb\\u{1bca0}-\\u{1bca3}\\u{1d173}-\\u{1d17a}]"
const INVISIBLE = new RegExp(`${INVISIBLE_CLASS}|[\\u{e0000}-\\u{e007f}]+|[\\u200c\\u200d]`, "gu")
const ONE_INVISIBLE = new RegExp(`^${INVISIBLE_CLASS}$`, "u")
/** The joiners and the tag characters where they mean something. */
const EMOJI_SIDE = /^[\p{Extended_Pictographic}\u{fe0f}\u{1f3fb}-\u{1f3ff}]$/u
const SCRIPT_LETTER = /^[\p{L}\p{M}]$/u
const TAG_SEQUENCE = /^[\u{e0020}-\u{e007e}]+\u{e007f}$/u
const BLACK_FLAG = 0x1f3f4

const codePointBefore = (text: string, index: number): string => {
  if (index <= 0) return ""
  const low = text.charCodeAt(index - 1)
  const start = low >= 0xdc00 && low <= 0xdfff && index >= 2 ? index - 2 : index - 1
  return String.fromCodePoint(text.codePointAt(start) ?? 0)
}

const codePointAt = (text: string, index: number): string => (index < text.length ? String.fromCodePoint(text.codePointAt(index) ?? 0) : "")

/** Whether the invisible `match` at `offset` is needed by what is around it (emoji, a script's joining). */
const needed = (match: string, offset: number, text: string): boolean => {
  const before = codePointBefore(text, offset)
  const after = codePointAt(text, offset + match.length)
  if (match === "\u200d" && EMOJI_SIDE.test(before) && EMOJI_SIDE.test(after)) return true
  const letter = (char: string) => char > "\u007f" && SCRIPT_LETTER.test(char) && !ONE_INVISIBLE.test(char)
  if ((match === "\u200c" || match === "\u200d") && letter(before) && letter(after)) return true
  return TAG_SEQUENCE.test(match) && before.codePointAt(0) === BLACK_FLAG
}

const codeName = (point: number): string => `<U+${point.toString(16).toUpperCase().padStart(4, "0")}>`

const showInvisible = (match: string, offset: number, text: string): string =>
  needed(match, offset, text) ? match : Array.from(match, (char) => codeName(char.codePointAt(0) ?? 0)).join("")

const dropInvisible = (match: string, offset: number, text: string): string => (needed(match, offset, text) ? match : "")

const TAB_AS_SPACES = "    "
const REPLACEMENT = "\ufffd"
const CONTROL_PICTURES_START = 0x2400
const DELETE_PICTURE = "\u2421"

const visibleControl = (control: string): string => {
  const code = control.charCodeAt(0)
  if (code < 0x20) return String.fromCharCode(CONTROL_PICTURES_START + code)
  if (code === 0x7f) return DELETE_PICTURE
  return REPLACEMENT
}

export interface SanitizeOptions {
  /** Keep line feeds (a multi-line message); otherwise they become "↵ ". Default true. */
  readonly keepNewlines?: boolean
  /** Longer text is cut and marked with "…". Default: no cut. */
  readonly maxLength?: number
}

/** Text that can only print: no escape sequence, control character, bidi control or lone surrogate. */
export const sanitizeText = (text: string, options: SanitizeOptions = {}): string => {
  const keepNewlines = options.keepNewlines ?? true
  let out = text
    .replace(ESCAPE_SEQUENCES, "")
    .replace(LINE_SEPARATORS, "\n")
    .replace(BIDI_CONTROLS, "")
    .replace(LONE_SURROGATES, REPLACEMENT)
    .replace(/\t/g, TAB_AS_SPACES)
    .replace(CONTROLS, visibleControl)
    .replace(INVISIBLE, showInvisible)
  if (!keepNewlines) out = out.replace(/\n/g, "\u21b5 ")
  if (options.maxLength !== undefined && out.length > options.maxLength) out = `${out.slice(0, Math.max(0, options.maxLength - 1))}…`
  return out
}

/** Literal braces for a blessed element created with `tags: true`. */
export const escapeTags = (text: string): string => text.replace(/[{}]/g, (brace) => (brace === "{" ? "{open}" : "{close}"))

/** Untrusted text, ready to put inside tagged content. */
export const inert = (text: string, options: SanitizeOptions = {}): string => escapeTags(sanitizeText(text, options))

/** One-line form for lists, titles and popups. */
export const inertLine = (text: string, maxLength?: number): string =>
  inert(text, maxLength === undefined ? { keepNewlines: false } : { keepNewlines: false, maxLength })

/**
 * Pasted text for the input line: line breaks normalised to LF, tabs to spaces, and every escape
 * sequence and control character dropped (a paste must not be able to hide text from its sender).
 */
export const cleanPastedText = (text: string): string =>
  text
    .replace(ESCAPE_SEQUENCES, "")
    .replace(/\r\n?|[\u2028\u2029]/g, "\n")
    .replace(BIDI_CONTROLS, "")
    .replace(LONE_SURROGATES, REPLACEMENT)
    .replace(/\t/g, TAB_AS_SPACES)
    .replace(CONTROLS, "")
    .replace(INVISIBLE, dropInvisible)

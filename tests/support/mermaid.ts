/**
 * A strict reader of the part of Mermaid's `sequenceDiagram` syntax the replay tool writes:
 * `participant ID as LABEL`, arrows `A->>B: text`, `A-->>B: text`, `A-xB: text`, and
 * `Note over A[,B]: text`. Any other line is an error, so a label that breaks out of its line (a
 * newline, a `;`, a `%%` comment) fails the test. Entity codes (`#35;`, `#lt;`) are decoded back.
 */
export interface Diagram {
  readonly participants: ReadonlyMap<string, string>
  readonly steps: ReadonlyArray<
    | { readonly kind: "arrow"; readonly from: string; readonly to: string; readonly arrow: "->>" | "-->>" | "-x"; readonly text: string }
    | { readonly kind: "note"; readonly over: ReadonlyArray<string>; readonly text: string }
  >
}

const NAMED: Readonly<Record<string, string>> = { lt: "<", gt: ">", quot: "\"", amp: "&" }

export const decodeEntities = (text: string): string =>
  text.replace(/#([0-9]+|[a-z]+);/g, (whole, code: string) => (/^[0-9]+$/.test(code) ? String.fromCharCode(Number(code)) : NAMED[code] ?? whole))

const ID = "[A-Za-z][A-Za-z0-9_]*"
const PARTICIPANT = new RegExp(`^  participant (${ID}) as (.+)$`)
const ARROW = new RegExp(`^  (${ID})(->>|-->>|-x)(${ID}): (.*)$`)
const NOTE = new RegExp(`^  Note over (${ID}(?:,${ID})*): (.*)$`)

/** Text that Mermaid would read as syntax inside a label, once entity codes are taken out: a raw `;`, `#`, `%` or `<…>`. */
const ENTITY = /#([0-9]+|[a-z]+);/g
export const unsafeInLabel = (raw: string): boolean => /[#;%<>]/.test(raw.replace(ENTITY, ""))

export const parseSequenceDiagram = (text: string): Diagram => {
  const rows = text.split("\n")
  if (rows[0] !== "sequenceDiagram") throw new Error(`not a sequence diagram: ${JSON.stringify(rows[0])}`)
  const participants = new Map<string, string>()
  const steps: Array<Diagram["steps"][number]> = []
  const label = (raw: string, row: number): string => {
    if (unsafeInLabel(raw)) throw new Error(`line ${row + 1}: unescaped Mermaid syntax in ${JSON.stringify(raw)}`)
    return decodeEntities(raw)
  }
  const known = (id: string, row: number): string => {
    if (!participants.has(id)) throw new Error(`line ${row + 1}: ${id} was not declared`)
    return id
  }
  rows.slice(1).forEach((line, i) => {
    const row = i + 1
    let m = PARTICIPANT.exec(line)
    if (m !== null) {
      if (steps.length > 0) throw new Error(`line ${row + 1}: participant after the first step`)
      participants.set(m[1]!, label(m[2]!, row))
      return
    }
    m = ARROW.exec(line)
    if (m !== null) {
      steps.push({ kind: "arrow", from: known(m[1]!, row), to: known(m[3]!, row), arrow: m[2] as "->>" | "-->>" | "-x", text: label(m[4]!, row) })
      return
    }
    m = NOTE.exec(line)
    if (m !== null) {
      steps.push({ kind: "note", over: m[1]!.split(",").map((id) => known(id, row)), text: label(m[2]!, row) })
      return
    }
    throw new Error(`line ${row + 1}: not a participant, an arrow or a note: ${JSON.stringify(line)}`)
  })
  return { participants, steps }
}

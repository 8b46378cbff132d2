/**
 * `replay diagram`: the Mermaid text is parsed back (tests/support/mermaid.ts, strict), and says
 * what happened between the three scripted users, in causal order; a message a given receiver
 * never got is a cross; hostile chat text stays one inert label; --format svg draws the same rows.
 */
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { diagram, mermaidText } from "../../apps/replay/diagram.ts"
import { NO_FILTER } from "../../apps/replay/filter.ts"
import { writeUserLogs } from "../../apps/sim/write-logs.ts"
import { descendants, parseXml } from "../support/xml.ts"
import { decodeEntities, parseSequenceDiagram, unsafeInLabel, type Diagram } from "../support/mermaid.ts"
import { capture, DANGEROUS, GROUP, removeTempDirs, scriptedRun, tempDir, type ScriptedRun } from "../support/replay-fixtures.ts"

let cluster: ScriptedRun
let profiles: ReadonlyArray<string>

beforeAll(async () => {
  cluster = await scriptedRun()
  profiles = writeUserLogs(path.join(tempDir("diagram"), "run"), cluster.users)
})
afterAll(removeTempDirs)

const draw = (targets: ReadonlyArray<string>, options: Partial<Parameters<typeof diagram>[1]> = {}): { diagram: Diagram; text: string; notes: ReadonlyArray<string> } => {
  const { out, lines, notes } = capture()
  expect(diagram(targets, { limit: 300, filter: NO_FILTER, format: "mermaid", ...options }, out)).toBe(0)
  const text = lines.join("\n")
  return { diagram: parseSequenceDiagram(text), text, notes }
}

/** Arrows as "from to text" with participant labels, for readable expectations. */
const arrows = (d: Diagram): Array<string> =>
  d.steps.flatMap((step) => (step.kind === "arrow" ? [`${d.participants.get(step.from)} ${step.arrow} ${d.participants.get(step.to)}: ${step.text}`] : []))

describe("replay diagram", () => {
  it("draws the three logs' exchange in causal order, each send once, and parses back", () => {
    const { diagram: d, text } = draw(profiles)
    expect([...d.participants.values()]).toEqual(expect.arrayContaining(["user-10001", "user-10002", "user-10003", `${GROUP} (group)`]))
    const drawn = arrows(d)
    const order = [
      "user-10001 ->> user-10002: request (attempt 1)",
      "user-10002 ->> user-10001: accept, topic 10001_10002_talk",
      'user-10001 ->> user-10002: msg 1 "hello"',
      "user-10001 ->> room-1 (group): room-1 v1: leader user-10001, 1 member",
      "user-10003 ->> user-10001: join room-1",
      "user-10001 ->> user-10003: accept into room-1 (v2)",
      'user-10003 ->> room-1 (group): msg 1 "hi all"',
    ]
    const positions = order.map((arrow) => drawn.indexOf(arrow))
    expect(positions.every((p) => p >= 0), `${JSON.stringify(positions)}\n${drawn.join("\n")}`).toBe(true)
    expect([...positions].sort((x, y) => x - y)).toEqual(positions)
    // The receivers' logs are given too: nothing is drawn twice from their side.
    expect(drawn.filter((arrow) => arrow.includes('"hello"'))).toHaveLength(1)
    expect(d.steps.some((step) => step.kind === "note" && step.text === "online (session 1)")).toBe(true)
    expect(text).not.toMatch(DANGEROUS)
  })

  it("keeps hostile chat text on its own line, inert, and decodes back to what the terminal would show", () => {
    const { diagram: d } = draw(profiles)
    const hostile = arrows(d).find((arrow) => arrow.includes("evil"))!
    expect(hostile).toMatch(/^user-10002 ->> user-10001: msg 1 ".*evil.*"$/)
    expect(hostile).not.toMatch(DANGEROUS)
    const tricky = "a;b %%c #35; <br> d"
    expect(decodeEntities(mermaidText(tricky))).toBe(tricky)
    expect(unsafeInLabel(tricky)).toBe(true)
    expect(unsafeInLabel(mermaidText(tricky))).toBe(false)
    // The reader is strict: a raw `;` or a second line breaks it.
    expect(() => parseSequenceDiagram("sequenceDiagram\n  participant A as a\n  A->>A: x; y")).toThrow(/unescaped/)
    expect(() => parseSequenceDiagram("sequenceDiagram\n  participant A as a\n  A->>A: x\ny")).toThrow(/not a participant/)
  })

  it("from one log alone, draws what it received from the others' side", () => {
    const { diagram: d } = draw([profiles[1]!])
    const drawn = arrows(d)
    expect(drawn).toContain('user-10001 ->> user-10002: msg 1 "hello"')
    expect(drawn).toContain("user-10001 ->> user-10002: request")
  })

  it("a message that a given receiver never got is a cross", async () => {
    const dir = tempDir("lost")
    const lost = await scriptedRun()
    // B's log loses its receipt of "hello" (as if the broker had dropped it).
    const b = lost.users[1]!
    const kept = b.log.filter((r) => !(r.event._tag === "message.received" && r.event.text === "hello")).map((r, i) => ({ ...r, seq: i + 1 }))
    const written = writeUserLogs(path.join(dir, "run"), [lost.users[0]!, { id: b.id, log: kept }])
    const drawn = arrows(draw(written).diagram)
    expect(drawn).toContain('user-10001 -x user-10002: msg 1 "hello" (never received)')
  })

  it("narrows to one conversation with --topic, and stops at --limit with a note", () => {
    const { diagram: d } = draw(profiles, { filter: { ...NO_FILTER, topics: ["10001_10002_talk"] } })
    expect(arrows(d).every((arrow) => !arrow.includes("room-1"))).toBe(true)
    const limited = draw(profiles, { limit: 3 }).diagram
    expect(limited.steps).toHaveLength(4)
    expect(limited.steps[3]).toMatchObject({ kind: "note", text: expect.stringMatching(/^… \d+ more not drawn/) })
  })

  it("--format svg: the same arrows and notes as the Mermaid text, as a picture that parses back", () => {
    const mermaid = draw(profiles, { limit: 40 }).diagram
    const { out, lines } = capture()
    expect(diagram(profiles, { limit: 40, filter: NO_FILTER, format: "svg" }, out)).toBe(0)
    const svg = parseXml(lines.join("\n"))
    const rows = descendants(svg).filter((element) => element.name === "g" && /^(arrow|note)/.test(element.attributes.get("class") ?? ""))
    expect(rows).toHaveLength(mermaid.steps.length)
    expect(rows.map((row) => (row.attributes.get("class") ?? "").split(" ")[0])).toEqual(mermaid.steps.map((step) => step.kind))
  })
})

/**
 * `replay diagram --format svg`: the picture is drawn from the same model as the Mermaid text,
 * parses back as strict XML (tests/support/xml.ts), has one arrow group per arrow and one note
 * per note in order, and hostile chat text stays the text of its label.
 */
import { describe, expect, it } from "vitest"
import { renderSvg, svgText } from "../../apps/replay/diagram-svg.ts"
import type { DiagramModel } from "../../apps/replay/diagram.ts"
import { descendants, ownText, parseXml, type XmlElement } from "../support/xml.ts"

const HOSTILE = "</text><script>alert(1)</script> & \"quoted\" 'single' \u001b[2J\u0007\u202e bidi \ud800 lone"

const model: DiagramModel = {
  participants: ["user-10001", "user-10002", "room-1 (group)"],
  rows: [
    { kind: "arrow", from: "user-10001", to: "user-10002", label: "request (attempt 1)", style: "solid" },
    { kind: "arrow", from: "user-10002", to: "user-10001", label: "accept, topic 10001_10002_talk", style: "solid" },
    { kind: "note", over: ["user-10002"], text: "held user-10001's msg 3 on 10001_10002_talk: an earlier one is missing" },
    { kind: "arrow", from: "user-10001", to: "user-10002", label: `msg 2 "${HOSTILE}"`, style: "lost" },
    { kind: "arrow", from: "user-10002", to: "user-10001", label: "resend 2", style: "dashed" },
    { kind: "arrow", from: "user-10001", to: "room-1 (group)", label: "room-1 v1: leader user-10001, 1 member", style: "solid" },
    { kind: "arrow", from: "user-10001", to: "user-10001", label: "to myself", style: "solid" },
  ],
}

const classOf = (element: XmlElement) => element.attributes.get("class") ?? ""
const labelOf = (group: XmlElement): string => {
  const text = descendants(group).find((element) => element.name === "text")
  const title = text === undefined ? undefined : descendants(text).find((element) => element.name === "title")
  return title !== undefined ? ownText(title) : text === undefined ? "" : ownText(text)
}

describe("replay diagram as SVG", () => {
  const svg = renderSvg(model)
  const root = parseXml(svg)
  const groups = descendants(root).filter((element) => element.name === "g")

  it("is one strict SVG document with a box at top and bottom and a lifeline per participant", () => {
    expect(root.name).toBe("svg")
    expect(root.attributes.get("xmlns")).toBe("http://www.w3.org/2000/svg")
    const boxes = groups.filter((group) => classOf(group) === "participant").map(labelOf)
    // Top and bottom box of each participant, left to right.
    expect(boxes).toEqual(model.participants.flatMap((who) => [who, who]))
    expect(descendants(root).filter((element) => classOf(element) === "lifeline")).toHaveLength(3)
  })

  it("draws the rows in order, each arrow with its style, the lost one as a cross without a head", () => {
    const rows = groups.filter((group) => classOf(group).startsWith("arrow") || classOf(group) === "note")
    expect(rows.map((group) => classOf(group))).toEqual(["arrow solid", "arrow solid", "note", "arrow lost", "arrow dashed", "arrow solid", "arrow solid"])
    expect(rows.map(labelOf)).toEqual(model.rows.map((row) => svgTextDecoded(row.kind === "arrow" ? row.label : row.text)))
    const lost = rows[3]!
    expect(descendants(lost).some((element) => element.attributes.has("marker-end"))).toBe(false)
    expect(descendants(rows[0]!).some((element) => element.attributes.get("marker-end") === "url(#head)")).toBe(true)
    expect(descendants(rows[4]!).some((element) => element.attributes.get("stroke-dasharray") === "6 4")).toBe(true)
  })

  it("keeps hostile chat text a label: no element, escape sequence, control or lone surrogate gets through", () => {
    expect(descendants(root).some((element) => element.name === "script")).toBe(false)
    const hostile = labelOf(groups.filter((group) => classOf(group) === "arrow lost")[0]!)
    expect(hostile).toContain("</text><script>alert(1)</script>")
    expect(hostile).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202e]/)
    expect(hostile).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/)
    expect(svg).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/)
  })

  it("cuts a label too long for its row, and keeps the whole (escaped) in a title", () => {
    const long = "x".repeat(150)
    const drawn = parseXml(renderSvg({ participants: ["a", "b"], rows: [{ kind: "arrow", from: "a", to: "b", label: long, style: "solid" }] }))
    const text = descendants(drawn).find((element) => element.name === "text" && ownText(element).startsWith("x"))!
    expect(ownText(text).length).toBeLessThan(long.length)
    expect(ownText(text).endsWith("…")).toBe(true)
    expect(ownText(descendants(text).find((element) => element.name === "title")!)).toBe(long)
  })

  it("draws an empty diagram too", () => {
    expect(parseXml(renderSvg({ participants: [], rows: [] })).name).toBe("svg")
  })
})

/** What the label's text reads as once parsed: `svgText` undone by the XML reader. */
const svgTextDecoded = (text: string): string => parseXml(`<t>${svgText(text)}</t>`).children.join("")

/**
 * The terminal bell's rules (adapters/tui/bell.ts): what counts as an arrival between two
 * snapshots (messages from others, new requests; never my own messages), when it is out of sight,
 * and the gate that rings at most once per interval however much arrives; and the /bell setting
 * and the closed groups as ui-state.json keeps them.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import type { RequestEntry, TopicSummary } from "../../domain/chat/chat-state.ts"
import type { GroupName, MessageId, UserId } from "../../domain/ids.ts"
import { arrivalsBetween, BELL_MIN_INTERVAL_MS, BellGate, deservesBell } from "../../adapters/tui/bell.ts"
import type { ChatSnapshot } from "../../adapters/tui/chat-port.ts"
import { parseInput } from "../../adapters/tui/commands.ts"
import { fileUiStateStore } from "../../adapters/tui/ui-state-store.ts"

const ME = "user-10"

const snapshot = (topics: Record<string, Pick<TopicSummary, "messages" | "sent">>, requests: ReadonlyArray<RequestEntry> = []): ChatSnapshot => ({
  users: [],
  groups: [],
  requests,
  acceptances: [],
  topics: new Map(Object.entries(topics).map(([topic, s]) => [topic, { ...s, lastAt: 0, lastSeq: 0 }])),
  outcomes: {},
  lastSeq: 0,
  keyChanges: [],
  closed: new Set(),
  unsent: new Set(),
})

const request = (from: string, requestId: string, status: RequestEntry["status"], group: string | null = null): RequestEntry => ({
  kind: group === null ? "chat" : "group",
  from: from as UserId,
  group: group as GroupName | null,
  requestId: requestId as MessageId,
  at: 0,
  status,
})

describe("arrivalsBetween", () => {
  it("counts messages from others per buffer, never my own", () => {
    const before = snapshot({ "10_20_talk": { messages: 2, sent: 1 }, group_team_talk: { messages: 5, sent: 5 } })
    expect(arrivalsBetween(before, snapshot({ "10_20_talk": { messages: 3, sent: 2 }, group_team_talk: { messages: 7, sent: 7 } }), ME)).toEqual([])
    expect(arrivalsBetween(before, snapshot({ "10_20_talk": { messages: 3, sent: 1 }, group_team_talk: { messages: 6, sent: 5 } }), ME)).toEqual([
      { key: "@user-20", kind: "message" },
      { key: "#team", kind: "message" },
    ])
    // A conversation that appears with a message from the peer: the peer's buffer.
    expect(arrivalsBetween(snapshot({}), snapshot({ "5_10_talk": { messages: 1, sent: 0 } }), ME)).toEqual([{ key: "@user-5", kind: "message" }])
    // A talk topic that is not mine (a hand-made snapshot) names no buffer.
    expect(arrivalsBetween(snapshot({}), snapshot({ "5_6_talk": { messages: 1, sent: 0 } }), ME)).toEqual([])
  })

  it("counts requests that became pending, not those already pending or answered", () => {
    const before = snapshot({}, [request("user-20", "aaaaaaaa", "pending")])
    const after = snapshot({}, [request("user-20", "aaaaaaaa", "pending"), request("user-30", "bbbbbbbb", "pending", "team"), request("user-40", "cccccccc", "refused")])
    expect(arrivalsBetween(before, after, ME)).toEqual([{ key: "#team", kind: "request" }])
    expect(arrivalsBetween(after, after, ME)).toEqual([])
  })
})

describe("deservesBell", () => {
  it("only for what arrives in a buffer not on screen", () => {
    const arrivals = [{ key: "@user-20", kind: "message" as const }]
    expect(deservesBell(arrivals, "@user-20")).toBe(false)
    expect(deservesBell(arrivals, "status")).toBe(true)
    expect(deservesBell([], "status")).toBe(false)
    // The terminal reported it lost the focus: nothing is seen.
    expect(deservesBell(arrivals, null)).toBe(true)
  })
})

describe("BellGate", () => {
  it("rings at most once per interval during a flood, and not at all when off", () => {
    const gate = new BellGate(true)
    let rings = 0
    // A message every 10 ms for a minute: 6,000 arrivals.
    for (let t = 0; t < 60_000; t += 10) if (gate.ring(t)) rings += 1
    expect(rings).toBe(60_000 / BELL_MIN_INTERVAL_MS)
    const off = new BellGate(false)
    expect([0, 10_000, 20_000].some((t) => off.ring(t))).toBe(false)
  })

  it("turned on again, rings at the next arrival; a clock set back does not silence it", () => {
    const gate = new BellGate(true)
    expect(gate.ring(1_000)).toBe(true)
    expect(gate.ring(1_500)).toBe(false)
    gate.turn(false)
    expect(gate.ring(2_000)).toBe(false)
    gate.turn(true)
    expect(gate.enabled).toBe(true)
    expect(gate.ring(2_100)).toBe(true)
    expect(gate.ring(-50_000)).toBe(true)
  })
})

describe("/bell and its saved setting", () => {
  it("parses on, off and a bare /bell; anything else is a usage line", () => {
    expect(parseInput("/bell off")).toEqual({ ok: true, command: { _tag: "bell", on: false } })
    expect(parseInput("/bell ON")).toEqual({ ok: true, command: { _tag: "bell", on: true } })
    expect(parseInput("/bell")).toEqual({ ok: true, command: { _tag: "bell", on: null } })
    expect(parseInput("/bell loud")).toEqual({ ok: false, error: "usage: /bell [on | off]" })
  })

  it("ui-state.json keeps the bell setting and the closed groups; older files without them still load", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mqtt-chat-bell-")), "ui-state.json")
    const store = fileUiStateStore(file, () => {})
    store.save({ readCounts: {}, lastBuffer: null, bell: false, closedGroups: ["team", "ops"] })
    expect(store.load()).toEqual({ readCounts: {}, lastBuffer: null, bell: false, closedGroups: ["team", "ops"] })
    fs.writeFileSync(file, JSON.stringify({ version: 1, readCounts: {}, lastBuffer: "status" }))
    expect(store.load()).toEqual({ readCounts: {}, lastBuffer: "status" })
    fs.rmSync(path.dirname(file), { recursive: true, force: true })
  })
})

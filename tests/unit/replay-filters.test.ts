/**
 * Filters on timeline, merge and stats (topic, peer, group, event, since/until by seq, clock or
 * time, --json lines), and `state` as the domain view: text, JSON, and what one record changed.
 * On the scripted three-user cluster (tests/support/replay-fixtures.ts) written as profile dirs.
 */
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { LogRecord } from "../../domain/events.ts"
import { stats, timeline, type Output } from "../../apps/replay/commands.ts"
import { NO_FILTER, parseBound, type RecordFilter } from "../../apps/replay/filter.ts"
import { merge } from "../../apps/replay/merge.ts"
import { parseReplayOptions } from "../../apps/replay/options.ts"
import { state } from "../../apps/replay/state-command.ts"
import type { DomainView } from "../../apps/shared/domain-view.ts"
import { writeUserLogs } from "../../apps/sim/write-logs.ts"
import { capture, DANGEROUS, removeTempDirs, scriptedRun, tempDir, type ScriptedRun } from "../support/replay-fixtures.ts"

let cluster: ScriptedRun
let profiles: ReadonlyArray<string>
let a: ReadonlyArray<LogRecord>
let ids: ReadonlyArray<string>

beforeAll(async () => {
  cluster = await scriptedRun()
  profiles = writeUserLogs(path.join(tempDir("filters"), "run"), cluster.users)
  a = cluster.users[0]!.log
  ids = cluster.users.map((user) => user.id)
})
afterAll(removeTempDirs)

const seqsOf = (lines: ReadonlyArray<string>): Array<number> => lines.map((line) => Number(line.trim().split(/\s+/)[0]))
const shown = (filter: Partial<RecordFilter>, json = false) => {
  const { out, lines, notes } = capture()
  expect(timeline(profiles[0]!, { fromSeq: 1, limit: undefined, filter: { ...NO_FILTER, ...filter }, json }, out)).toBe(0)
  return { lines, notes }
}
/** The records of A's log a predicate picks, by seq: what each filter must show, computed independently. */
const expected = (keep: (record: LogRecord) => boolean): Array<number> => a.filter(keep).map((record) => record.seq)
const text = (record: LogRecord): string => JSON.stringify(record)

describe("timeline filters", () => {
  it("--topic shows the records on the pair's topic, negotiation included", () => {
    const topic = "10001_10002_talk"
    const { lines } = shown({ topics: [topic] })
    expect(seqsOf(lines)).toEqual(expected((r) => text(r).includes(topic) || ("peer" in r.event && r.event.peer === ids[1])))
    expect(lines.some((line) => line.includes("message.sent"))).toBe(true)
    expect(lines.some((line) => line.includes("conversation.request.sent"))).toBe(true)
    expect(lines.some((line) => line.includes("group."))).toBe(false)
  })

  it("--peer shows what involves that user, --group what involves the group; both can be combined (AND)", () => {
    const peer = shown({ peers: [ids[2]!] }).lines
    expect(peer.length).toBeGreaterThan(0)
    for (const line of peer) expect(line).toMatch(/user-10003|room-1/)
    const group = shown({ groups: ["room-1"] }).lines
    expect(seqsOf(group)).toEqual(expected((r) => text(r).includes("room-1")))
    const both = shown({ peers: [ids[2]!], groups: ["room-1"] }).lines
    expect(both.length).toBeGreaterThan(0)
    expect(both.length).toBeLessThanOrEqual(Math.min(peer.length, group.length))
  })

  it("in the owner's own log, --peer OWNER is not everything: only what involves the owner as the other party", () => {
    expect(shown({ peers: [ids[0]!] }).lines).toEqual([])
  })

  it("--event takes exact types and families (message.*), as a comma list", () => {
    const parsed = parseReplayOptions(["timeline", "--event", "message.*,session.started", "p"])
    if (parsed.kind !== "run" || parsed.run.command !== "timeline") throw new Error("parse")
    expect(parsed.run.filter.events).toEqual(["message.", "session.started"])
    const { lines } = shown(parsed.run.filter)
    expect(seqsOf(lines)).toEqual(expected((r) => r.event._tag.startsWith("message.") || r.event._tag === "session.started"))
  })

  it("--since/--until take a seq or a time, inclusive", () => {
    expect(seqsOf(shown({ since: { kind: "number", value: 3 }, until: { kind: "number", value: 5 } }).lines)).toEqual([3, 4, 5])
    const middle = a[Math.floor(a.length / 2)]!
    const fromTime = shown({ since: { kind: "time", ms: middle.at } }).lines
    expect(seqsOf(fromTime)).toEqual(expected((r) => r.at >= middle.at))
    const bound = parseBound("--since", new Date(middle.at).toISOString())
    expect(bound).toEqual({ kind: "time", ms: middle.at })
    // Without a zone a time is UTC; a date alone is its midnight UTC.
    expect(parseBound("--since", "2026-11-25T17:51")).toEqual({ kind: "time", ms: Date.UTC(2026, 10, 25, 17, 51) })
    expect(parseBound("--since", "2026-11-25")).toEqual({ kind: "time", ms: Date.UTC(2026, 10, 25) })
    expect(parseBound("--since", "yesterday")).toMatch(/takes a sequence number or an ISO time/)
  })

  it("says so when nothing matches", () => {
    const { lines, notes } = shown({ groups: ["nosuchgroup"] })
    expect(lines).toEqual([])
    expect(notes).toEqual(["no record matches group nosuchgroup"])
  })

  it("--json prints one inert JSON record per line, the records themselves", () => {
    const { lines } = shown({ topics: ["10001_10002_talk"] }, true)
    const parsed = lines.map((line) => JSON.parse(line) as LogRecord)
    expect(parsed).toEqual(a.filter((r) => parsed.some((p) => p.seq === r.seq)))
    expect(parsed.some((r) => r.event._tag === "message.received" && r.event.text.includes("evil"))).toBe(true)
    for (const line of lines) expect(line).not.toMatch(DANGEROUS)
  })
})

describe("merge and stats filters", () => {
  it("merge --topic keeps the pair's records from both logs; --until is a clock there", () => {
    const { out, lines } = capture()
    expect(merge(profiles, { limit: undefined, filter: { ...NO_FILTER, topics: ["10001_10002_talk"] }, json: false }, out)).toBe(0)
    const who = new Set(lines.map((line) => line.split(/\s+/)[2]))
    expect([...who].sort()).toEqual([ids[0], ids[1]])
    const until = capture()
    merge(profiles, { limit: undefined, filter: { ...NO_FILTER, until: { kind: "number", value: 10 } }, json: true }, until.out)
    const clocks = until.lines.map((line) => (JSON.parse(line) as { clock: number; who: string }).clock)
    expect(clocks.length).toBeGreaterThan(0)
    expect(Math.max(...clocks)).toBeLessThanOrEqual(10)
    expect(until.lines.map((line) => (JSON.parse(line) as { who: string }).who)).toContain(ids[2])
  })

  it("stats --json counts only what the filter keeps", () => {
    const { out, lines } = capture()
    expect(stats(profiles[0]!, { ...NO_FILTER, events: ["message."] }, true, out)).toBe(0)
    const result = JSON.parse(lines[0]!) as { records: number; events: Record<string, number>; conversations: Record<string, { sent: number; received: number }> }
    expect(result.records).toBe(a.filter((r) => r.event._tag.startsWith("message.")).length)
    expect(Object.keys(result.events).every((tag) => tag.startsWith("message."))).toBe(true)
    expect(result.conversations["10001_10002_talk"]).toMatchObject({ sent: 1, received: 1 })
  })
})

describe("state: the domain view", () => {
  const view = (seq: number | undefined, json: boolean, diff = false, out?: Output) => {
    const captured = capture()
    const code = state(profiles[0]!, { at: seq === undefined ? undefined : { kind: "number", value: seq }, diff, json, raw: false }, out ?? captured.out)
    expect(code).toBe(0)
    return captured
  }

  it("says who is online, where each conversation stands, each group's members — no machine internals", () => {
    const { lines } = view(undefined, false)
    const all = lines.join("\n")
    expect(lines[0]).toMatch(/^user-10001 at seq \d+ \(.*\): session 1, online$/)
    expect(all).toMatch(/user-10002 +online +conversation open on 10001_10002_talk · 2 messages, 1 unread/)
    expect(all).toMatch(/#room-1 — I lead it · leader user-10001, members user-10001 user-10003, v2/)
    expect(all).not.toMatch(/historyValue|children|"status"/)
    expect(all).not.toMatch(DANGEROUS)
  })

  it("--json gives the same view as data; --at a seq shows the state then", () => {
    const now = JSON.parse(view(undefined, true).lines.join("\n")) as DomainView
    expect(now.users["user-10002"]).toMatchObject({ presence: "online", conversation: "active", messages: 2, unread: 1 })
    expect(now.groups["room-1"]).toMatchObject({ me: "leading", members: ["user-10001", "user-10003"], pending: [] })
    expect(now.outbox.count).toBe(0)
    const requested = a.find((r) => r.event._tag === "conversation.request.sent")!
    const then = JSON.parse(view(requested.seq, true).lines.join("\n")) as DomainView
    expect(then.seq).toBe(requested.seq)
    expect(then.users["user-10002"]).toMatchObject({ conversation: "outgoing", messages: 0 })
    expect(then.groups).toEqual({})
  })

  it("--diff says what the record at SEQ changed", () => {
    const received = a.find((r) => r.event._tag === "message.received")!
    const { lines } = view(received.seq, false, true)
    expect(lines[0]).toMatch(new RegExp(`^ +${received.seq} .*message\\.received +from user-10002`))
    expect(lines.slice(1)).toEqual(expect.arrayContaining(["  ~ users.user-10002.messages: 1 → 2", "  ~ users.user-10002.unread: 0 → 1"]))
    const join = a.find((r) => r.event._tag === "group.join.received")!
    const joined = view(join.seq, true, true)
    const parsed = JSON.parse(joined.lines.join("\n")) as { seq: number; changes: ReadonlyArray<string> }
    expect(parsed.seq).toBe(join.seq)
    expect(parsed.changes).toContain('~ groups.room-1.pending: [] → ["user-10003"]')
  })

  it("--at a time folds the records up to that time", () => {
    const middle = a[Math.floor(a.length / 2)]!
    const captured = capture()
    expect(state(profiles[0]!, { at: { kind: "time", ms: middle.at }, diff: false, json: true, raw: false }, captured.out)).toBe(0)
    const lastAtOrBefore = a.filter((r) => r.at <= middle.at).at(-1)!
    // Records are in time order here: everything up to the last one at that time.
    expect((JSON.parse(captured.lines.join("\n")) as DomainView).seq).toBe(lastAtOrBefore.seq)
  })

  it("parses --diff, --json and --raw, and refuses --raw with the others", () => {
    expect(parseReplayOptions(["state", "--at", "2026-11-25T10:00Z", "--diff", "--json", "p"])).toEqual({ kind: "run", run: { command: "state", target: "p", at: { kind: "time", ms: Date.UTC(2026, 10, 25, 10) }, diff: true, json: true, raw: false } })
    expect(parseReplayOptions(["state", "--raw", "--diff", "p"])).toMatchObject({ kind: "error" })
    expect(parseReplayOptions(["state", "--json=1", "p"])).toMatchObject({ kind: "error", message: "--json takes no value" })
  })
})

/**
 * The replay tool on real logs: a conversation and a group between three users of a Cluster (the
 * real core), one user's records written by the real FileEventLog — which stays open, holding the
 * lock, while the tool reads — and all three written with the record codec for `merge`. The
 * commands run in-process; the last suite runs the command line itself for exit codes and bytes.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FileEventLog, LOCK_FILE, LOG_FILE } from "../../adapters/storage/file-event-log.ts"
import { replay, stateToJson } from "../../domain/chat/chat-state.ts"
import type { LogRecord } from "../../domain/events.ts"
import type { GroupName, UserId } from "../../domain/ids.ts"
import { EventLog } from "../../domain/ports/event-log.port.ts"
import { audit } from "../../apps/replay/audit-command.ts"
import { check, stats, timeline } from "../../apps/replay/commands.ts"
import { describeEvent, inertJson } from "../../apps/replay/describe.ts"
import { diagram } from "../../apps/replay/diagram.ts"
import { NO_FILTER } from "../../apps/replay/filter.ts"
import { compareMerged, merge } from "../../apps/replay/merge.ts"
import { parseReplayOptions } from "../../apps/replay/options.ts"
import { state, type StateOptions } from "../../apps/replay/state-command.ts"
import { writeUserLogs } from "../../apps/sim/write-logs.ts"
import { capture, DANGEROUS, HOSTILE_TEXT, removeTempDirs, scriptedRun, tempDir, type ScriptedRun } from "../support/replay-fixtures.ts"
import { runProgram } from "../support/run-program.ts"

const RAW: StateOptions = { at: undefined, diff: false, json: false, raw: true }
const rawAt = (seq: number): StateOptions => ({ ...RAW, at: { kind: "number", value: seq } })
const allOf = { fromSeq: 1, limit: undefined, filter: NO_FILTER, json: false }

/** Byte offset of each line of a log file. */
const lineOffsets = (file: string): Array<number> => {
  const bytes = fs.readFileSync(file)
  const offsets = [0]
  for (let i = bytes.indexOf(0x0a); i >= 0 && i < bytes.length - 1; i = bytes.indexOf(0x0a, i + 1)) offsets.push(i + 1)
  return offsets
}

let cluster: ScriptedRun
let records: ReadonlyArray<LogRecord>
/** A's profile, written by the real file log, which keeps it open (and locked) until afterAll. */
let profile: string
let scope: Scope.Closeable

beforeAll(async () => {
  cluster = await scriptedRun()
  records = cluster.users[0]!.log
  profile = tempDir("profile")
  scope = await Effect.runPromise(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(FileEventLog.layer({ dir: profile }), scope))
  const log = Context.get(context, EventLog)
  const appended = await Effect.runPromise(log.append(records.map(({ seq: _seq, ...entry }) => entry)))
  expect(appended).toEqual(records)
})

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  removeTempDirs()
})

describe("replay check", () => {
  it("reports a clean log, read while the chat's log holds the lock", () => {
    expect(fs.readFileSync(path.join(profile, LOCK_FILE), "utf8").trim()).toBe(String(process.pid))
    const { out, lines } = capture()
    expect(check(profile, out)).toBe(0)
    expect(lines).toContain(`writer     process ${process.pid} holds the lock: read without it, up to the size at open`)
    expect(lines).toContain(`records    ${records.length} (seq 1..${records.length})`)
    expect(lines).toContain("seq gaps   none")
    expect(lines).toContain("torn tail  none")
    expect(lines.at(-1)).toBe("result     OK")
  })

  it("reports a flipped byte with the offset of its record, the gap it leaves, and exits 1", () => {
    const dir = tempDir("flipped")
    const file = path.join(dir, LOG_FILE)
    fs.copyFileSync(path.join(profile, LOG_FILE), file)
    const offsets = lineOffsets(file)
    const damagedLine = 5
    const lineStart = offsets[damagedLine - 1]!
    const flipped = lineStart + 30
    const bytes = fs.readFileSync(file)
    bytes[flipped] = bytes[flipped]! ^ 0x04
    fs.writeFileSync(file, bytes)

    const { out, lines } = capture()
    expect(check(file, out)).toBe(1)
    const region = lines.find((line) => line.startsWith("  offset "))!
    expect(region).toMatch(new RegExp(`^  offset ${lineStart} \\((\\d+) bytes\\): checksum — crc32 [0-9a-f]{8} != [0-9a-f]{8}$`))
    const length = Number(/\((\d+) bytes\)/.exec(region)![1])
    expect(flipped).toBeGreaterThanOrEqual(lineStart)
    expect(flipped).toBeLessThan(lineStart + length)
    expect(lines).toContain(`records    ${records.length - 1} (seq 1..${records.length})`)
    expect(lines).toContain(`  seq ${damagedLine}..${damagedLine} missing (the record after them is at offset ${offsets[damagedLine]})`)
    expect(lines.at(-1)).toBe("result     CORRUPT")
  })

  it("reports a torn tail; while a live writer holds the lock, an unfinished last line is a write in progress", () => {
    const dir = tempDir("torn")
    const file = path.join(dir, LOG_FILE)
    const whole = fs.readFileSync(path.join(profile, LOG_FILE))
    const lastStart = lineOffsets(path.join(profile, LOG_FILE)).at(-1)!
    fs.writeFileSync(file, whole.subarray(0, lastStart + 10))

    const torn = capture()
    expect(check(dir, torn.out)).toBe(1)
    expect(torn.lines).toContain(`torn tail  offset ${lastStart} (10 bytes): incomplete — the file ends inside this line (the chat cuts it off at the next start)`)

    fs.writeFileSync(path.join(dir, LOCK_FILE), `${process.pid}\n`)
    const writing = capture()
    expect(check(dir, writing.out)).toBe(0)
    expect(writing.lines.find((line) => line.startsWith("torn tail"))).toMatch(/a write in progress/)
  })

  it("says what is wrong with a path that is not a log", () => {
    const { out, lines, notes } = capture()
    expect(check(path.join(tempDir("empty"), "nothing-here"), out)).toBe(2)
    expect(lines).toEqual([])
    expect(notes[0]).toMatch(/^cannot read .*nothing-here: ENOENT$/)
    expect(check(tempDir("no-log"), out)).toBe(2)
    expect(notes[1]).toMatch(/holds no events.log: not a profile directory$/)
  })
})

describe("replay timeline", () => {
  it("prints one line per record, and no escape sequence or bidi override from a message", () => {
    const { out, lines } = capture()
    expect(timeline(profile, allOf, out)).toBe(0)
    expect(lines).toHaveLength(records.length)
    lines.forEach((line, i) => expect(line).toMatch(new RegExp(`^ +${i + 1}  \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z  clock ${records[i]!.clock} +${records[i]!.event._tag.replace(".", "\\.")} `)))
    const hostile = lines.find((line) => line.includes("evil"))
    expect(hostile).toMatch(/message\.received +from user-10002 on 10001_10002_talk #1 ".*evil.*exe\.txt.*end"/)
    for (const line of lines) expect(line).not.toMatch(DANGEROUS)
  })

  it("starts at --from and stops after --limit", () => {
    const { out, lines } = capture()
    expect(timeline(profile, { ...allOf, fromSeq: 3, limit: 2 }, out)).toBe(0)
    expect(lines.map((line) => Number(line.trim().split(" ")[0]))).toEqual([3, 4])
  })
})

describe("replay state", () => {
  it("--at SEQ prints the fold of the records up to SEQ, the same as replaying that prefix", () => {
    for (const at of [1, 4, Math.floor(records.length / 2), records.length]) {
      const { out, lines } = capture()
      expect(state(profile, rawAt(at), out)).toBe(0)
      const expected: unknown = JSON.parse(JSON.stringify(stateToJson(replay(records.slice(0, at)))))
      expect(JSON.parse(lines.join("\n"))).toEqual(expected)
    }
  })

  it("without --at prints the whole fold; past the end it says where the log ends", () => {
    const whole = capture()
    expect(state(profile, RAW, whole.out)).toBe(0)
    expect(JSON.parse(whole.lines.join("\n"))).toEqual(JSON.parse(JSON.stringify(stateToJson(cluster.users[0]!.state))))
    const past = capture()
    expect(state(profile, rawAt(records.length + 10), past.out)).toBe(0)
    expect(past.notes).toEqual([`note: the log ends at seq ${records.length}, before ${records.length + 10}`])
  })

  it("writes C1 controls, bidi overrides and line separators in chat text as JSON escapes", () => {
    const json = inertJson({ text: HOSTILE_TEXT, line: "a\u2028b" })
    expect(json).not.toMatch(DANGEROUS)
    expect(json).not.toMatch(/[\u2028\u2029]/)
    expect(JSON.parse(json)).toEqual({ text: HOSTILE_TEXT, line: "a\u2028b" })
  })
})

describe("replay merge", () => {
  it("merges several users' logs by Lamport clock, then user id, keeping each log's order", () => {
    const dir = tempDir("merge")
    const profiles = writeUserLogs(dir, cluster.users)
    const { out, lines, notes } = capture()
    expect(merge(profiles, { limit: undefined, filter: NO_FILTER, json: false }, out)).toBe(0)
    expect(notes).toEqual([])
    const total = cluster.users.reduce((sum, user) => sum + user.log.length, 0)
    expect(lines).toHaveLength(total)
    const parsed = lines.map((line) => {
      const m = /^clock (\d+) +(user-\d+) +#(\d+) /.exec(line)
      if (m === null) throw new Error(`unexpected line ${line}`)
      return { clock: Number(m[1]), who: m[2]!, seq: Number(m[3]) }
    })
    for (let i = 1; i < parsed.length; i++) {
      const [before, after] = [parsed[i - 1]!, parsed[i]!]
      expect(before.clock < after.clock || (before.clock === after.clock && before.who <= after.who), `${JSON.stringify(before)} then ${JSON.stringify(after)}`).toBe(true)
    }
    for (const user of cluster.users) {
      expect(parsed.filter((p) => p.who === user.id).map((p) => p.seq)).toEqual(user.log.map((r) => r.seq))
    }
    // A message is received after it was sent: the Lamport clock carries causality across logs.
    const sent = lines.findIndex((line) => line.includes("message.sent") && line.includes("evil"))
    const received = lines.findIndex((line) => line.includes("message.received") && line.includes("evil"))
    expect(sent).toBeGreaterThanOrEqual(0)
    expect(received).toBeGreaterThan(sent)
    for (const line of lines) expect(line).not.toMatch(DANGEROUS)
  })

  it("orders user ids by number, not as strings", () => {
    const at = (who: string) => ({ who, record: { ...records[0]!, clock: 5 } })
    expect(compareMerged(at("user-9"), at("user-10"))).toBeLessThan(0)
  })
})

describe("replay stats", () => {
  it("counts records per event type and messages per conversation", () => {
    const { out, lines } = capture()
    expect(stats(profile, NO_FILTER, false, out)).toBe(0)
    expect(lines[0]).toMatch(new RegExp(`\\(user-10001\\): ${records.length} records`))
    const tagRows = lines.filter((line) => /^[a-z]+\.[a-z.-]+ +\d+ +[\d.]+%$/.test(line))
    expect(tagRows.reduce((sum, row) => sum + Number(row.split(/ +/)[1]), 0)).toBe(records.length)
    // A sent "hello" and received the hostile text on the pair's topic; A sent nothing in the group, C wrote once.
    expect(lines).toContainEqual(expect.stringMatching(/^10001_10002_talk +1 +1 +0 +2$/))
    expect(lines).toContainEqual(expect.stringMatching(/^group_room-1_talk +0 +1 +0 +1$/))
  })
})

describe("replay arguments", () => {
  it("parses each command's options and refuses the rest with one line", () => {
    expect(parseReplayOptions(["timeline", "--from", "3", "--limit=2", "p"])).toEqual({ kind: "run", run: { command: "timeline", target: "p", fromSeq: 3, limit: 2, filter: NO_FILTER, json: false } })
    expect(parseReplayOptions(["state", "--at", "7", "p"])).toEqual({ kind: "run", run: { command: "state", target: "p", at: { kind: "number", value: 7 }, diff: false, json: false, raw: false } })
    expect(parseReplayOptions(["merge", "a", "b"])).toEqual({ kind: "run", run: { command: "merge", targets: ["a", "b"], limit: undefined, filter: NO_FILTER, json: false } })
    expect(parseReplayOptions(["--help"])).toMatchObject({ kind: "help" })
    expect(parseReplayOptions([])).toMatchObject({ kind: "error" })
    expect(parseReplayOptions(["frob", "p"])).toMatchObject({ kind: "error", message: 'unknown command "frob" (check, timeline, state, merge, stats, diagram, audit, view)' })
    expect(parseReplayOptions(["check", "--at", "3", "p"])).toMatchObject({ kind: "error", message: 'check does not take "--at" (it takes no options)' })
    expect(parseReplayOptions(["state", "--at", "0", "p"])).toMatchObject({ kind: "error", message: '--at must be a positive integer, not "0"' })
    expect(parseReplayOptions(["timeline", "--limit", "p"])).toMatchObject({ kind: "error" })
    expect(parseReplayOptions(["check", "a", "b"])).toMatchObject({ kind: "error", message: "check reads one log, got 2" })
    expect(parseReplayOptions(["stats"])).toMatchObject({ kind: "error", message: "stats needs a profile directory or log file" })
  })
})

describe("replay command line", () => {
  const MAIN = path.join(import.meta.dirname, "..", "..", "apps", "replay", "main.ts")
  const runReplay = (args: ReadonlyArray<string>) => runProgram(MAIN, args)

  it("exits 0 on a clean log, 1 on a corrupt one, 2 on bad arguments; the terminal gets no escape sequence", async () => {
    const corrupt = path.join(tempDir("cli"), LOG_FILE)
    const bytes = fs.readFileSync(path.join(profile, LOG_FILE))
    bytes[40] = bytes[40]! ^ 0x01
    fs.writeFileSync(corrupt, bytes)
    const [clean, damaged, shown, wrong] = await Promise.all([
      runReplay(["check", profile]),
      runReplay(["check", corrupt]),
      runReplay(["timeline", profile]),
      runReplay(["state", "--at", "x", profile]),
    ])
    expect(clean.code).toBe(0)
    expect(clean.stdout).toMatch(/^result {5}OK$/m)
    expect(damaged.code).toBe(1)
    expect(damaged.stdout).toMatch(/^ {2}offset 0 \(\d+ bytes\): checksum/m)
    expect(shown.code).toBe(0)
    expect(shown.stdout.split("\n")).toHaveLength(records.length + 1)
    expect(shown.stdout).toMatch(/evil/)
    expect(shown.stdout).not.toMatch(DANGEROUS)
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toBe('replay: --at takes a sequence number or an ISO time (2026-11-25T17:51:00Z), not "x"\n')
  })
})

describe("secrets in a log", () => {
  it("timeline and state show which group keys are held, never the keys", async () => {
    const dir = tempDir("secrets")
    const secret = "S3cr3tGr0upKeyS3cr3tGr0upKeyS3cr3tGr0upKey0"
    const localScope = await Effect.runPromise(Scope.make())
    const context = await Effect.runPromise(Layer.buildWithScope(FileEventLog.layer({ dir }), localScope))
    await Effect.runPromise(Context.get(context, EventLog).append([
      { at: 1, clock: 1, event: { _tag: "profile.created", user: "user-10001" as UserId }, out: [] },
      { at: 2, clock: 2, event: { _tag: "group.key.received", group: "club" as GroupName, version: 3, from: "user-20002" as UserId, key: secret }, out: [] },
    ]))
    await Effect.runPromise(Scope.close(localScope, Exit.void))
    const shown = capture()
    expect(timeline(dir, allOf, shown.out)).toBe(0)
    expect(state(dir, RAW, shown.out)).toBe(0)
    const all = shown.lines.join("\n")
    expect(all).toContain("club v3 key from user-20002 (not shown)")
    expect(all).toContain("(secret)")
    expect(all).not.toContain(secret)
    // Every other way of printing a record keeps it too.
    const everyWay = capture()
    expect(timeline(dir, { ...allOf, json: true }, everyWay.out)).toBe(0)
    expect(merge([dir], { limit: undefined, filter: NO_FILTER, json: true }, everyWay.out)).toBe(0)
    for (const options of [{ ...RAW, raw: false }, { ...RAW, raw: false, json: true }, { ...RAW, raw: false, diff: true }, { ...RAW, raw: false, diff: true, json: true }]) expect(state(dir, options, everyWay.out)).toBe(0)
    expect(diagram([dir], { limit: 100, filter: NO_FILTER, format: "mermaid" }, everyWay.out)).toBe(0)
    expect(audit([dir], { filter: NO_FILTER, json: true, limit: 10 }, everyWay.out)).toBe(0)
    // The view's status bar describes the record it is at.
    const hint = describeEvent({ _tag: "group.key.received", group: "club" as GroupName, version: 3, from: "user-20002" as UserId, key: secret })
    const printed = [...everyWay.lines, ...everyWay.notes, hint].join("\n")
    expect(printed).toContain('"key":"(secret)"')
    expect(printed).not.toContain(secret)
  })
})

describe("on the log the chat's FileEventLog wrote, beside the others' logs", () => {
  it("diagram, audit and state --diff work, and agree with the records", () => {
    const others = writeUserLogs(tempDir("others"), cluster.users.slice(1))
    const all = [profile, ...others]
    const drawn = capture()
    expect(diagram(all, { limit: 300, filter: NO_FILTER, format: "mermaid" }, drawn.out)).toBe(0)
    expect(drawn.lines[0]).toBe("sequenceDiagram")
    expect(drawn.lines.filter((line) => line.includes('msg 1 "hello"'))).toHaveLength(1)
    const audited = capture()
    expect(audit(all, { filter: NO_FILTER, json: false, limit: 10 }, audited.out)).toBe(0)
    expect(audited.lines[1]).toMatch(/received 3 · MISSING 0/)
    const diffed = capture()
    const last = records.at(-1)!
    expect(state(profile, { at: { kind: "number", value: last.seq }, diff: true, json: false, raw: false }, diffed.out)).toBe(0)
    expect(diffed.lines[0]).toMatch(new RegExp(`^ +${last.seq} `))
  })
})

describe("on a simulation run's logs, from the command line", () => {
  const SIM = path.join(import.meta.dirname, "..", "..", "apps", "sim", "main.ts")
  const MAIN = path.join(import.meta.dirname, "..", "..", "apps", "replay", "main.ts")

  it("npm run sim -- --logs DIR, then audit finds nothing missing, and diagram and state read them", async () => {
    const dir = path.join(tempDir("sim-cli"), "run")
    const sim = await runProgram(SIM, ["--seed", "9", "--users", "4", "--steps", "600", "--no-timing", "--logs", dir])
    expect(sim.code, sim.stdout).toBe(0)
    const logs = fs.readdirSync(dir).map((user) => path.join(dir, user))
    const [audited, drawn, shown] = await Promise.all([
      runProgram(MAIN, ["audit", ...logs]),
      runProgram(MAIN, ["diagram", "--limit", "50", ...logs]),
      runProgram(MAIN, ["state", "--json", logs[0]!]),
    ])
    expect(audited.code, audited.stdout).toBe(0)
    expect(audited.stdout).toMatch(/ · MISSING 0 · /)
    expect(drawn.code).toBe(0)
    expect(drawn.stdout.startsWith("sequenceDiagram\n")).toBe(true)
    expect(shown.code).toBe(0)
    expect(JSON.parse(shown.stdout)).toMatchObject({ me: "user-10001" })
  })
})

/**
 * The delivery audit (apps/shared/delivery-audit.ts), through `replay audit` and through the
 * simulator's invariant — the same code: everything delivered in the scripted run; a message the
 * broker lost is missing, explained from both logs, exit 1; a receiver that joined later is "not
 * due", not missing; a message held back for a gap is missing until it is shown.
 */
import * as path from "node:path"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import type { LogRecord } from "../../domain/events.ts"
import { topics, type GroupName } from "../../domain/ids.ts"
import type { OpenWorld } from "../../apps/sim/open-world.ts"
import { audit } from "../../apps/replay/audit-command.ts"
import { NO_FILTER } from "../../apps/replay/filter.ts"
import { parseReplayOptions } from "../../apps/replay/options.ts"
import { auditLogs } from "../../apps/shared/delivery-audit.ts"
import { messagesDelivered } from "../../apps/sim/invariants.ts"
import { writeUserLogs } from "../../apps/sim/write-logs.ts"
import { capture, DANGEROUS, GROUP, removeTempDirs, scriptedRun, tempDir } from "../support/replay-fixtures.ts"
import { closeWorlds, groupWith, must, openConversation, startedWorld } from "../support/sim-world.ts"

afterAll(removeTempDirs)
afterEach(closeWorlds)

/** Time passes between steps, as it does for people: the audit orders a join and a message by time too. */
const SECOND = 1000

const started = async (users: number): Promise<OpenWorld> => {
  const world = await startedWorld(users, 5)
  await world.advance(SECOND)
  return world
}

/** A and B (real services) in an open conversation. */
const talking = async (): Promise<OpenWorld> => {
  const world = await started(2)
  await openConversation(world, 0, 1)
  await world.advance(SECOND)
  return world
}

const sendText = (world: OpenWorld, from: number, to: number, text: string) =>
  world.command(from, { _tag: "message.send", target: { _tag: "peer", peer: world.ids[to]! }, text })

/**
 * The broker loses the chat text waiting for `to` on its talk topic with `from` after the PUBACK
 * (the text is sealed: the one waiting there is the one just sent).
 */
const loseWaitingText = (world: OpenWorld, from: number, to: number): void => {
  const topic = topics.talk(world.ids[from]!, world.ids[to]!)
  if (world.world.broker.discard(world.ids[to]!, (m) => m.topic === topic) !== 1) throw new Error(`not exactly one message waiting on ${topic}`)
}

const logsOf = async (world: OpenWorld) => (await world.snapshot()).map((user) => user.log)

const runAudit = (logs: ReadonlyArray<{ readonly id: string; readonly log: ReadonlyArray<LogRecord> }>, json = false) => {
  const profiles = writeUserLogs(path.join(tempDir("audit"), "run"), logs)
  const { out, lines, notes } = capture()
  const code = audit(profiles, { filter: NO_FILTER, json, limit: 50 }, out)
  return { code, lines, notes }
}

describe("replay audit", () => {
  it("finds every message of the scripted run delivered: exit 0, each with its receivers and when", async () => {
    const cluster = await scriptedRun()
    const { code, lines } = runAudit(cluster.users)
    expect(code).toBe(0)
    expect(lines[1]).toMatch(/^messages sent 3 · deliveries due 3 · received 3 · MISSING 0 · not due 0 · to users without a log here 0$/)
    expect(lines).toContain("Missing deliveries: none")
    expect(lines.find((line) => line.includes('"hello"'))).toMatch(/user-10001 #1 on 10001_10002_talk "hello" → user-10002 \d\d:\d\d/)
    // C's group message reached A, the leader (the only other member).
    expect(lines.find((line) => line.includes('"hi all"'))).toMatch(/→ user-10001 /)
    for (const line of lines) expect(line).not.toMatch(DANGEROUS)
  })

  it("a message the broker lost is missing, with what each side's log says last; exit 1", async () => {
    const world = await talking()
    const b = { id: world.ids[1]! }
    await sendText(world, 0, 1, "zeroth")
    await world.drain()
    await sendText(world, 0, 1, "first")
    loseWaitingText(world, 0, 1)
    await sendText(world, 0, 1, "second")
    await world.drain()
    // The acknowledgements are logged in their batch.
    await world.advance(100)
    const report = auditLogs(await logsOf(world))
    expect(report.received).toBe(1)
    expect(report.missing).toHaveLength(2)
    const [first, second] = report.missing
    expect(first).toMatchObject({ to: b.id, message: { text: "first", n: 2 } })
    expect(first!.reason).toMatch(/^never arrived, though the broker acknowledged it \(user-10001's seq \d+\)$/)
    // "second" came, but is held back: B waits for #2, which never comes.
    expect(second!.reason).toMatch(/^arrived \(seq \d+\) but is still held back/)
    expect(second!.receiver.map((note) => note.event)).toContain("message.held")
    expect(first!.sender.map((note) => note.event)).toContain("outbox.acked")

    const { code, lines } = runAudit(await world.snapshot())
    expect(code).toBe(1)
    expect(lines).toContain("Missing deliveries (2):")
    expect(lines.find((line) => line.includes('"first" → user-10002: sent at seq'))).toBeDefined()
    expect(lines.join("\n")).toMatch(/ {4}user-10002 says +seq \d+ .*\n( {24}seq .*\n)* {24}seq \d+ +\S+ +message\.held +from user-10001, topic 10001_10002_talk, #3/)

    // Time passes: B asks A to resend, A republishes from its log, and both are shown.
    await world.advance(6000)
    await world.drain()
    expect(auditLogs(await logsOf(world)).missing).toEqual([])
  })

  it("a message still in the sender's outbox (never acknowledged) says so", async () => {
    const world = await talking()
    await sendText(world, 0, 1, "unacked")
    loseWaitingText(world, 0, 1)
    // No time passes: the acknowledgement batch (every 100 ms) has not been logged, the send is still in A's outbox.
    const report = auditLogs(await logsOf(world))
    expect(report.missing.map((m) => m.reason)).toEqual(["still in user-10001's outbox: the broker never acknowledged it"])
  })

  it("a member who joined after a message was sent was not due it: not missing", async () => {
    const world = await started(3)
    const group = GROUP as GroupName
    await groupWith(world, 0, group, [1])
    await world.advance(SECOND)
    await must(world, 0, { _tag: "message.send", target: { _tag: "group", group }, text: "before C" })
    await must(world, 2, { _tag: "group.join", group })
    await must(world, 0, { _tag: "group.accept", group, user: world.ids[2]! })
    await world.advance(SECOND)
    await must(world, 0, { _tag: "message.send", target: { _tag: "group", group }, text: "after C" })
    const report = auditLogs(await logsOf(world))
    expect(report.missing).toEqual([])
    expect(report.received).toBe(3)
    // C was not a member when "before C" went out: the sender did not even address it.
    expect(report.deliveries.size).toBe(2)
  })

  it("--json: a summary line, then one line per message with its receipts", async () => {
    const cluster = await scriptedRun()
    const { code, lines } = runAudit(cluster.users, true)
    expect(code).toBe(0)
    const [summary, ...messages] = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(summary).toEqual({ summary: { users: ["user-10001", "user-10002", "user-10003"], sent: 3, due: 3, received: 3, missing: 0, notDue: 0, notAudited: 0 } })
    expect(messages).toHaveLength(3)
    expect(messages[0]).toMatchObject({ message: { text: "hello", from: "user-10001" }, received: [{ to: "user-10002" }], missing: [] })
  })

  it("takes the message filters but not --event", () => {
    expect(parseReplayOptions(["audit", "--topic", "1_2_talk", "a", "b"])).toMatchObject({ kind: "run", run: { command: "audit", filter: { topics: ["1_2_talk"] } } })
    expect(parseReplayOptions(["audit", "--event", "message.sent", "a"])).toMatchObject({ kind: "error" })
  })
})

describe("the simulator's delivery invariant is the audit", () => {
  it("holds when everything arrived, and fails, naming the message, when the broker lost one", async () => {
    const world = await talking()
    await sendText(world, 0, 1, "kept")
    await world.drain()
    expect(messagesDelivered(await world.snapshot())).toMatchObject({ ok: true, detail: "1 messages, 1 of 1 deliveries received, 0 not due (receiver not in it then)" })
    await sendText(world, 0, 1, "dropped")
    loseWaitingText(world, 0, 1)
    await world.advance(100)
    const verdict = messagesDelivered(await world.snapshot())
    expect(verdict.ok).toBe(false)
    expect(verdict.detail).toMatch(/^1 missing; first: user-10001's #2 on 10001_10002_talk \(its seq \d+\) to user-10002: never arrived/)
  })
})

/**
 * The simulator on the real chat service: one seed, one report and the same logs (byte for byte);
 * a small run keeps every invariant while it actually exercises the protocol (conversations,
 * groups, duplicates, reordering, offline users, crashes) and carries real traffic; the invariant
 * checks catch what they are meant to (negative space).
 */
import { Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { decideCommand } from "../../domain/chat/decide.ts"
import type { LogRecord } from "../../domain/events.ts"
import type { GroupName } from "../../domain/ids.ts"
import { encodeRecordLine } from "../../adapters/storage/record-codec.ts"
import { groupViewsEqual, noMessageTwice, pairsAgree, replayEqualsLive, shownInOrder, type SimUser } from "../../apps/sim/invariants.ts"
import { DEFAULT_SIM_OPTIONS } from "../../apps/sim/options.ts"
import { auditLogs } from "../../apps/shared/delivery-audit.ts"
import { formatReportJson, formatReportTable } from "../../apps/sim/report.ts"
import { simulate, type SimConfig } from "../../apps/sim/simulation.ts"
import { closeWorlds, must, openConversation, startedWorld } from "../support/sim-world.ts"

afterEach(closeWorlds)

/**
 * Seed 1 of this size keeps every invariant. Seed 3 of it lost a group message for good before
 * group messages that come before their key or their sender's membership waited for them
 * (domain/service/awaiting-group.ts): it is kept below as the regression.
 */
const small: SimConfig = { ...DEFAULT_SIM_OPTIONS, seed: 1, users: 6, steps: 2500, timing: false }

const countOf = (counts: ReadonlyArray<{ label: string; count: number }>, label: string): number =>
  counts.find((c) => c.label === label)?.count ?? 0

const logBytes = (users: ReadonlyArray<{ readonly log: ReadonlyArray<LogRecord> }>): string =>
  users.map((user) => Buffer.concat(user.log.map(encodeRecordLine)).toString("base64")).join("\n")

describe("simulator", () => {
  it("gives a byte-identical report and byte-identical logs for the same seed, and another run for another seed", async () => {
    const config: SimConfig = { ...small, steps: 1200 }
    const first = await simulate(config)
    const second = await simulate(config)
    expect(formatReportTable(second.report)).toBe(formatReportTable(first.report))
    expect(formatReportJson(second.report)).toBe(formatReportJson(first.report))
    expect(logBytes(second.users)).toBe(logBytes(first.users))
    expect(formatReportJson((await simulate({ ...config, seed: config.seed + 1 })).report)).not.toBe(formatReportJson(first.report))
  }, 120_000)

  it("keeps every invariant in a small run that exercises the whole protocol and carries real traffic", async () => {
    const { report, users } = await simulate(small)
    expect(report.invariants.filter((i) => !i.ok)).toEqual([])
    // Positive space: the run did more than collect rejections.
    const accepted = report.commands.acceptedByKind
    for (const kind of ["message.peer", "message.group", "conversation.request", "conversation.accept", "group.create", "group.join", "group.accept"]) {
      expect(countOf(accepted, kind), kind).toBeGreaterThan(0)
    }
    expect(report.commands.accepted / report.commands.total).toBeGreaterThan(0.8)
    expect(report.messages.sent).toBeGreaterThan(300)
    expect(report.messages.delivered).toBeGreaterThan(report.messages.sent)
    expect(report.messages.missing).toBe(0)
    expect(report.deliveries.duplicated).toBeGreaterThan(0)
    expect(report.deliveries.reordered).toBeGreaterThan(0)
    expect(countOf(report.deliveries.droppedByReason, "duplicate")).toBeGreaterThan(0)
    expect(report.users.offlineSpells + report.users.crashes).toBeGreaterThan(0)
    // The counts add up, and agree with the users' logs.
    expect(report.commands.accepted + report.commands.rejected).toBe(report.commands.total)
    expect(report.records.total).toBe(users.reduce((sum, user) => sum + user.log.length, 0))
    expect(report.timing).toBeUndefined()
  }, 120_000)

  it("a group message that came before its key or its sender's membership waits and is delivered (seed 3 lost one)", async () => {
    const { report } = await simulate({ ...small, seed: 3 })
    expect(report.invariants.filter((i) => !i.ok)).toEqual([])
    expect(report.messages.missing).toBe(0)
    // The case happened: some group messages had to wait.
    expect(countOf(report.deliveries.droppedByReason, "group message waiting for the group's key or members")).toBeGreaterThan(0)
  }, 120_000)

  it("a group key whose information came after the next version is kept, and what was sent under it is read (seed 14 of 12 users lost 24)", async () => {
    const { report, users } = await simulate({ ...small, seed: 14, users: 12, steps: 4000 })
    expect(report.invariants.filter((i) => !i.ok)).toEqual([])
    expect(report.messages.missing).toBe(0)
    // The case happened: keys taken for a version below one already held (the information overtaken).
    const lateKeys = users.reduce((sum, user) => {
      const newest = new Map<string, number>()
      let late = 0
      for (const { event } of user.log) {
        if (event._tag !== "group.key.received") continue
        if (event.version < (newest.get(event.group) ?? 0)) late += 1
        newest.set(event.group, Math.max(event.version, newest.get(event.group) ?? 0))
      }
      return sum + late
    }, 0)
    expect(lateKeys).toBeGreaterThan(0)
  }, 120_000)

  it("crashes, also between storing a decision and publishing it, lose nothing the users saw as sent", async () => {
    const { report, users } = await simulate({ ...small, steps: 2000, offline: 0, crash: 0.05 })
    expect(report.users.crashes).toBeGreaterThan(3)
    expect(report.users.crashesBetweenStoreAndPublish).toBeGreaterThan(0)
    expect(report.invariants.filter((i) => !i.ok && i.name !== "every message reached its receivers")).toEqual([])
    // The one loss a crash still causes (README "Known gaps"): group messages that were waiting
    // in memory for their key or their sender's membership when their reader crashed. Every
    // delivery missing here must be that: on a group topic, to a reader that started again after it was sent.
    const audit = auditLogs(users.map((user) => user.log))
    for (const missing of audit.missing) {
      expect(missing.message.topic, JSON.stringify(missing)).toMatch(/^group_.*_talk$/)
      const restarted = users.find((user) => user.id === missing.to)?.log.some((record) => record.event._tag === "session.started" && record.at >= missing.message.at)
      expect(restarted, JSON.stringify(missing)).toBe(true)
    }
  }, 120_000)

  it("a broker that loses acknowledged messages: readers ask for the gaps and get them; what no later message reveals is found missing", async () => {
    const { report } = await simulate({ ...small, lose: 0.05 })
    expect(report.deliveries.lostByTheBroker).toBeGreaterThan(20)
    const order = report.invariants.find((i) => i.name === "shown in the sender's order")!
    expect(order.ok).toBe(true)
    expect(Number(/\((\d+) orders asked for a resend\)/.exec(order.detail)?.[1])).toBeGreaterThan(5)
    // A sender's last message lost by the broker is never asked for (README "Known gaps"): the
    // delivery invariant names it, with the broker's acknowledgement in the sender's log.
    expect(report.messages.missing).toBeGreaterThan(0)
    expect(report.invariants.find((i) => i.name === "every message reached its receivers")).toMatchObject({ ok: false, detail: expect.stringMatching(/never arrived, though the broker acknowledged it/) })
    expect(report.ok).toBe(false)
  }, 120_000)

  it("stops where it is when asked (Ctrl-C) and says so, with the seed", async () => {
    let polls = 0
    const { report } = await simulate({ ...small, steps: 2000 }, { stopRequested: () => ++polls > 300 })
    expect(report.interruptedAtStep).toBe(300)
    expect(report.ok).toBe(false)
    expect(formatReportTable(report)).toMatch(new RegExp(`INTERRUPTED at step 300 of 2000: invariants not checked \\(seed ${small.seed}\\)`))
  }, 120_000)

  it("measures its own speed only when asked, and reports progress", async () => {
    let tick = 0
    const progress: number[] = []
    const { report } = await simulate({ ...small, steps: 1000, timing: true }, { now: () => (tick += 50), progress: (p) => progress.push(p.step) })
    expect(report.timing).toEqual({ elapsedMs: 50, events: report.commands.total + report.deliveries.total, eventsPerSecond: Math.round((report.commands.total + report.deliveries.total) * 20) })
    expect(formatReportTable(report)).toMatch(/events\/s/)
    expect(progress).toEqual([0, 500])
  }, 120_000)
})

describe("invariant checks catch violations", () => {
  const snapshot = async (world: Awaited<ReturnType<typeof startedWorld>>): Promise<ReadonlyArray<SimUser>> => world.snapshot()

  it("a pair where one side is active and the other is not", async () => {
    const world = await startedWorld(2)
    await must(world, 0, { _tag: "conversation.request", peer: world.ids[1]! })
    expect(await world.command(1, { _tag: "conversation.accept", peer: world.ids[0]! })).toBeNull()
    // The acceptance is still at the broker: B is active, A is not yet.
    expect(pairsAgree(await snapshot(world)).ok).toBe(false)
    await world.drain()
    expect(pairsAgree(await snapshot(world))).toMatchObject({ ok: true, detail: "1 pairs, 1 active" })
  })

  it("group information that differs between users", async () => {
    const world = await startedWorld(2)
    const group = "room-1" as GroupName
    expect(await world.command(0, { _tag: "group.create", group })).toBeNull()
    expect(groupViewsEqual(await snapshot(world), [group]).ok).toBe(false)
    await world.drain()
    expect(groupViewsEqual(await snapshot(world), [group]).ok).toBe(true)
  })

  it("a live state that its log does not give, a message stored twice, one shown out of order", async () => {
    const world = await startedWorld(2)
    await openConversation(world, 0, 1)
    for (const text of ["hi", "again"]) await must(world, 0, { _tag: "message.send", target: { _tag: "peer", peer: world.ids[1]! }, text })
    const [a, b] = (await snapshot(world)) as [SimUser, SimUser]
    expect(replayEqualsLive([a, b]).ok).toBe(true)
    expect(noMessageTwice([a, b]).ok).toBe(true)
    expect(shownInOrder([a, b]).ok).toBe(true)

    const received = b.log.filter((r) => r.event._tag === "message.received")
    expect(received).toHaveLength(2)
    const twice: SimUser = { ...b, log: [...b.log, { ...received[0]!, seq: b.log.length + 1 } satisfies LogRecord] }
    expect(noMessageTwice([a, twice])).toMatchObject({ ok: false })
    expect(shownInOrder([a, twice])).toMatchObject({ ok: false })

    const entry = Result.getOrThrow(decideCommand(a.state, { _tag: "session.end" }, { now: 1, newMessageId: () => { throw new Error("unused") } }))
    const diverged: SimUser = { ...a, log: [...a.log, { seq: a.log.length + 1, ...entry }] }
    expect(replayEqualsLive([diverged, b])).toMatchObject({ ok: false })
  })
})

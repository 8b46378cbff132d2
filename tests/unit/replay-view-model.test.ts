/**
 * The model behind `replay view`: any position, reached forward, backward or by a jump across
 * checkpoints, shows the same domain view as folding that prefix of the log from scratch; the
 * read-only port answers history from the position (never a later message), and refuses actions.
 */
import { describe, expect, it } from "vitest"
import type { LogRecord } from "../../domain/events.ts"
import type { UserId } from "../../domain/ids.ts"
import { domainView, ViewFold } from "../../apps/shared/domain-view.ts"
import { ReadOnlyChatPort, ReplaySession } from "../../apps/replay/view-model.ts"
import { longConversationLog, scriptedRun } from "../support/replay-fixtures.ts"

const viewOfPrefix = (records: ReadonlyArray<LogRecord>, count: number) => {
  const fold = new ViewFold()
  for (const record of records.slice(0, count)) fold.apply(record)
  return domainView(fold)
}

describe("ReplaySession", () => {
  it("any move gives the fold of that prefix, across checkpoints, forward and back", async () => {
    // A long log: several checkpoint intervals (at least 2,000 records each).
    const records = await longConversationLog(4_100)
    expect(records.length).toBeGreaterThan(4_001)
    const session = new ReplaySession(records)
    const positions = [records.length, 1, 2_500, 2_499, 4_001, records.length - 1, 17, 3, records.length]
    let rebuilt = 0
    for (const position of positions) {
      if (session.moveTo(position) === null) rebuilt += 1
      expect(session.position).toBe(position)
      expect(session.record?.seq).toBe(records[position - 1]!.seq)
      expect(domainView(session.fold), `at ${position}`).toEqual(viewOfPrefix(records, position))
    }
    // Backward moves and long jumps start from a checkpoint; short forward steps fold on.
    expect(rebuilt).toBeGreaterThanOrEqual(4)
    expect(session.moveTo(records.length + 100)).toEqual([])
    expect(session.position).toBe(records.length)
  })

  it("finds positions by seq, time, next message and text", async () => {
    const records = (await scriptedRun()).users[0]!.log
    const session = new ReplaySession(records)
    session.moveTo(1)
    const firstMessage = records.findIndex((r) => r.event._tag === "message.sent" || r.event._tag === "message.received") + 1
    expect(session.nextMessage(1)).toBe(firstMessage)
    session.moveTo(firstMessage)
    expect(session.nextMessage(-1)).toBeUndefined()
    expect(session.positionOfSeq(records[4]!.seq)).toBe(5)
    expect(session.positionOfTime(records.at(-1)!.at)).toBe(records.length)
    const evil = session.search("EVIL")!
    expect(records[evil - 1]!.event._tag).toBe("message.received")
    expect(session.search("no such words anywhere")).toBeUndefined()
  })
})

describe("ReadOnlyChatPort", () => {
  it("answers history from the position only, lists users and groups, and refuses actions", async () => {
    const cluster = await scriptedRun()
    const records = cluster.users[0]!.log
    const b = cluster.users[1]!.id
    const session = new ReplaySession(records)
    const port = new ReadOnlyChatPort(session)
    const sent = records.findIndex((r) => r.event._tag === "message.sent") + 1
    session.moveTo(sent)
    const early = await port.history({ _tag: "peer", peer: b }, { limit: 50 })
    expect(early.messages.map((m) => m.text)).toEqual(["hello"])
    expect(port.snapshot().users.find((u) => u.user === b)).toMatchObject({ status: "online", conversation: "active" })
    expect(port.snapshot().groups).toEqual([])
    session.moveTo(records.length)
    const late = await port.history({ _tag: "peer", peer: b as UserId }, { limit: 50 })
    expect(late.messages.map((m) => m.mine)).toEqual([true, false])
    expect((await port.history({ _tag: "peer", peer: b }, { limit: 1 })).hasMore).toBe(true)
    expect(port.snapshot().groups.map((g) => g.name)).toEqual(["room-1"])
    const refused = await port.perform()
    expect(refused).toEqual({ ok: false, error: expect.stringMatching(/^read-only: this is user-10001's log at seq \d+, replayed; nothing is sent$/) })
    let notices = 0
    const stop = port.subscribe(() => (notices += 1))
    port.changed()
    stop()
    port.changed()
    expect(notices).toBe(1)
  })
})

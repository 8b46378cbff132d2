/**
 * The world the simulator and the tests share (apps/sim/harness.ts): real services over the memory
 * broker on one TestClock. What a user sends in an open conversation reaches the peer; timers
 * follow the clock; a crash after storing and before publishing loses nothing.
 */
import { afterEach, describe, expect, it } from "vitest"
import { openWorld, type OpenWorld } from "../../apps/sim/open-world.ts"
import type { GroupName } from "../../domain/ids.ts"

const open: OpenWorld[] = []
afterEach(async () => {
  for (const world of open.splice(0)) await world.close()
})
const world = async (users: number, seed = 1) => {
  const w = await openWorld({ seed, users })
  open.push(w)
  return w
}
const texts = (records: ReadonlyArray<{ readonly event: { readonly _tag: string } }>, tag: string) =>
  records.filter((r) => r.event._tag === tag).map((r) => (r.event as unknown as { text: string }).text)

const talking = async () => {
  const w = await world(2)
  await w.startAll()
  await w.drain()
  const [a, b] = w.ids as [typeof w.ids[0], typeof w.ids[0]]
  expect(await w.command(0, { _tag: "conversation.request", peer: b })).toBeNull()
  await w.drain()
  expect(await w.command(1, { _tag: "conversation.accept", peer: a })).toBeNull()
  await w.drain()
  return { w, a, b }
}

describe("the simulation world", () => {
  it("carries a message from one real service to another, signed and sealed, routed by subscription", async () => {
    const { w, a, b } = await talking()
    expect(await w.command(0, { _tag: "message.send", target: { _tag: "peer", peer: b }, text: "hello" })).toBeNull()
    await w.drain()
    expect(texts(await w.records(1), "message.received")).toEqual(["hello"])
    expect(await w.command(1, { _tag: "message.send", target: { _tag: "peer", peer: a }, text: "hi" })).toBeNull()
    await w.drain()
    expect(texts(await w.records(0), "message.received")).toEqual(["hi"])
  })

  it("refuses a command the core refuses, with its reason", async () => {
    const w = await world(2)
    await w.startAll()
    expect(await w.command(0, { _tag: "message.send", target: { _tag: "peer", peer: w.ids[1]! }, text: "x" })).toMatch(/conversation/)
  })

  it("the acknowledgement flush is a timer on the one clock: nothing is logged until time passes", async () => {
    const { w, b } = await talking()
    await w.command(0, { _tag: "message.send", target: { _tag: "peer", peer: b }, text: "hello" })
    await w.drain()
    const acked = async () => (await w.records(0)).filter((r) => r.event._tag === "outbox.acked").length
    const before = await acked()
    await w.advance(99)
    expect(await acked()).toBe(before)
    await w.advance(1)
    expect(await acked()).toBe(before + 1)
  })

  it("a crash between storing a message and publishing it: the restart publishes it from the log", async () => {
    const { w, b } = await talking()
    await w.crash(0, true)
    expect(await w.command(0, { _tag: "message.send", target: { _tag: "peer", peer: b }, text: "stored, not sent" })).toBeNull()
    await w.drain()
    expect(texts(await w.records(1), "message.received")).toEqual([])
    expect(w.world.online(0)).toBe(false)
    await w.command(0, { _tag: "session.start" })
    await w.drain()
    expect(texts(await w.records(1), "message.received")).toEqual(["stored, not sent"])
  })

  it("a partition: the peer sees the Will, what was written meanwhile goes out on reconnecting (connection 2)", async () => {
    const { w, a, b } = await talking()
    expect(await w.partition(0)).toBe(true)
    await w.drain()
    expect((await w.state(1)).presence.get(a)?.value).toBe("offline")
    // The chat still runs: the message is stored at once and held by the transport.
    expect(await w.command(0, { _tag: "message.send", target: { _tag: "peer", peer: b }, text: "written offline" })).toBeNull()
    expect(await w.command(1, { _tag: "message.send", target: { _tag: "peer", peer: a }, text: "sent while A was away" })).toBeNull()
    await w.drain()
    expect(texts(await w.records(1), "message.received")).toEqual([])
    expect(texts(await w.records(0), "message.received")).toEqual([])
    await w.heal(0)
    await w.drain()
    expect(texts(await w.records(1), "message.received")).toEqual(["written offline"])
    expect(texts(await w.records(0), "message.received")).toEqual(["sent while A was away"])
    const presence = (await w.records(1)).filter((r) => r.event._tag === "presence.observed" && (r.event as unknown as { user: string }).user === a).at(-1)
    expect(presence?.event).toMatchObject({ status: "online", connection: 2 })
  })

  // Found by the simulator: the first message received on a pair's topic set the sender's baseline,
  // so a #3 that overtook #1 and #2 was shown first and they came after it.
  it("in a new conversation, a #3 that overtakes #1 and #2 waits for them: shown in the sender's order", async () => {
    const { w, b } = await talking()
    for (const text of ["one", "two", "three"]) await w.command(0, { _tag: "message.send", target: { _tag: "peer", peer: b }, text })
    const queued = w.world.broker.waiting(b).map((m) => m.topic)
    const last = queued.lastIndexOf(queued.find((t) => t.endsWith("_talk"))!)
    expect(await w.run(w.world.deliver(1, last))).toBe(true)
    expect(texts(await w.records(1), "message.received")).toEqual([])
    await w.drain()
    expect(texts(await w.records(1), "message.received")).toEqual(["one", "two", "three"])
  })

  it("a group: a member admitted and its message delivered to the leader", async () => {
    const w = await world(3)
    await w.startAll()
    await w.drain()
    const team = "team" as GroupName
    expect(await w.command(0, { _tag: "group.create", group: team })).toBeNull()
    await w.drain()
    expect(await w.command(1, { _tag: "group.join", group: team })).toBeNull()
    await w.drain()
    expect(await w.command(0, { _tag: "group.accept", group: team, user: w.ids[1]! })).toBeNull()
    await w.drain()
    expect(await w.command(1, { _tag: "message.send", target: { _tag: "group", group: team }, text: "hi all" })).toBeNull()
    await w.drain()
    expect(texts(await w.records(0), "message.received")).toEqual(["hi all"])
    expect(texts(await w.records(2), "message.received")).toEqual([])
  })
})

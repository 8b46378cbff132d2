/**
 * The pieces that keep a flood from strangers away from the user: which lane a message waits in,
 * the bounded strangers' lane, the budget on what strangers may store, and the drop reports.
 */
import { afterEach, describe, expect, it } from "vitest"
import { DropTally, reasonKey } from "../../domain/service/drop-tally.ts"
import { LANE_DROPS, laneOf, senderHint, StoreBudget, StrangerLane } from "../../domain/service/lanes.ts"
import { topics, type GroupName, type MessageId, type UserId } from "../../domain/ids.ts"
import { closeWorlds, groupWith, openConversation, startedWorld } from "../support/sim-world.ts"
import { envelopeBytes, type Body } from "../../domain/wire/messages.ts"

const bytes = (from: string, body: Body) => envelopeBytes({ v: 1, id: "lanetest00000001" as MessageId, from: from as UserId, ts: 1, clock: 1, body })

describe("which lane a message waits in", () => {
  afterEach(closeWorlds)
  /** Me (a real service) with a peer in an open conversation and a member of the group I lead. */
  const setup = async () => {
    const world = await startedWorld(3, 3)
    await openConversation(world, 0, 1)
    await groupWith(world, 0, "team" as GroupName, [2])
    return { me: { id: world.ids[0]!, state: await world.state(0) }, peer: { id: world.ids[1]! }, member: { id: world.ids[2]! } }
  }

  it("contacts' traffic goes first; strangers' waits in their lane, keyed by the sender it claims", async () => {
    const { me, peer, member } = await setup()
    const stranger = "user-777777"
    const request = (from: string) => bytes(from, { _tag: "chat.request", to: me.id, attempt: 1, ends: 0 })
    expect(laneOf(me.state, me.id, topics.control(me.id), request(peer.id))).toEqual({ lane: "peers" })
    expect(laneOf(me.state, me.id, topics.control(me.id), request(member.id))).toEqual({ lane: "peers" })
    expect(laneOf(me.state, me.id, topics.control(me.id), request(stranger))).toEqual({ lane: "strangers", sender: stranger })
    expect(laneOf(me.state, me.id, topics.talk(me.id, peer.id), new Uint8Array())).toEqual({ lane: "peers" })
    expect(laneOf(me.state, me.id, topics.presence(peer.id), new Uint8Array())).toEqual({ lane: "peers" })
    expect(laneOf(me.state, me.id, topics.presence(stranger as UserId), new Uint8Array())).toEqual({ lane: "strangers", sender: stranger })
    expect(laneOf(me.state, me.id, topics.groupInfo("team" as GroupName), new Uint8Array())).toEqual({ lane: "peers" })
    expect(laneOf(me.state, me.id, topics.groupInfo("other" as GroupName), bytes(stranger, { _tag: "group.leave", group: "other" as GroupName }))).toEqual({ lane: "strangers", sender: stranger })
    const groupText = (from: string) => bytes(from, { _tag: "group.message", group: "team" as GroupName, text: "hi", n: 1 })
    expect(laneOf(me.state, me.id, topics.groupTalk("team" as GroupName), groupText(member.id))).toEqual({ lane: "peers" })
    expect(laneOf(me.state, me.id, topics.groupTalk("team" as GroupName), groupText(stranger))).toEqual({ lane: "strangers", sender: stranger })
    expect(laneOf(me.state, me.id, topics.control(me.id), new TextEncoder().encode("not json"))).toEqual({ lane: "strangers", sender: "?control" })
  })

  it("the sender hint reads the claimed `from` without decoding, and nothing else", () => {
    expect(senderHint(bytes("user-42", { _tag: "group.leave", group: "g" as GroupName }))).toBe("user-42")
    expect(senderHint(new TextEncoder().encode(`{"v":1, "from" : "user-9", "x":1}`))).toBe("user-9")
    // Inside a JSON string (an envelope wrapped in another) the claim is still read.
    expect(senderHint(new TextEncoder().encode(JSON.stringify({ v: 2, signed: JSON.stringify({ from: "user-5", body: {} }) })))).toBe("user-5")
    expect(senderHint(new Uint8Array([0xff, 0xfe, 0x00]))).toBeNull()
  })
})

describe("the strangers' lane", () => {
  it("is FIFO, bounded in all and per sender", () => {
    const lane = new StrangerLane<number>({ queued: 5, queuedPerSender: 2 })
    expect(lane.offer("a", 1)).toBeNull()
    expect(lane.offer("a", 2)).toBeNull()
    expect(lane.offer("a", 3)).toBe(LANE_DROPS.sender)
    expect(lane.offer("b", 4)).toBeNull()
    expect(lane.offer("c", 5)).toBeNull()
    expect(lane.offer("d", 6)).toBeNull()
    expect(lane.offer("e", 7)).toBe(LANE_DROPS.full)
    expect(lane.take(2).map((x) => x.job)).toEqual([1, 2])
    // Room again, for the sender too.
    expect(lane.offer("a", 8)).toBeNull()
    expect(lane.take(10).map((x) => x.job)).toEqual([4, 5, 6, 8])
    expect(lane.size).toBe(0)
  })
})

describe("what strangers may store", () => {
  it("a burst, then so many per second: in all and per sender", () => {
    const budget = new StoreBudget({ storedBurst: 10, storedPerSecond: 2, senderBurst: 3, senderPerSecond: 1 }, 0)
    const takes = (sender: string, count: number, now: number) => Array.from({ length: count }, () => budget.take(sender, now))
    expect(takes("a", 4, 0)).toEqual([null, null, null, LANE_DROPS.senderStored])
    // Other senders share the total: 10 in the burst.
    const others = Array.from({ length: 9 }, (_, i) => budget.take(`s${i}`, 0))
    expect(others.filter((r) => r === null)).toHaveLength(7)
    expect(others.at(-1)).toBe(LANE_DROPS.stored)
    // One second later: 2 more in all, 1 more for a.
    expect(takes("a", 2, 1000)).toEqual([null, LANE_DROPS.senderStored])
    expect(budget.take("z", 1000)).toBeNull()
    expect(budget.take("y", 1000)).toBe(LANE_DROPS.stored)
  })
})

describe("drop reports", () => {
  it("ten a window one by one, then one summary; counts by reason without ids", () => {
    const tally = new DropTally(10, 1000)
    const reports = Array.from({ length: 500 }, (_, i) => tally.record("t", `chat.accept from user-${i}`, 5))
    expect(reports.flat()).toHaveLength(10)
    expect(tally.flush(500)).toBeNull()
    const summary = tally.flush(1005)
    expect(summary?.reason).toMatch(/^490 more dropped within 1000 ms: chat\.accept from user-N ×490/)
    expect(tally.byReason()).toEqual({ "chat.accept from user-N": 500 })
    expect(reasonKey("chat message on 12345_67890_talk, oversize (17000 bytes)")).toBe("chat message on N_M_talk, oversize (N bytes)")
  })
})

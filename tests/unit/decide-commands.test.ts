/**
 * Commands the core refuses, with the reason the user reads (the negative space of decideCommand),
 * on states that real chat services reached in the simulation world.
 */
import { Result } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { decideCommand } from "../../domain/chat/decide.ts"
import { replay } from "../../domain/chat/chat-state.ts"
import type { GroupName, MessageId, UserId } from "../../domain/ids.ts"
import { MAX_TEXT_CHARS } from "../../domain/wire/messages.ts"
import { closeWorlds, openConversation, startedWorld } from "../support/sim-world.ts"

afterEach(closeWorlds)

const context = { now: 1, newMessageId: () => "abcdefgh12345678" as MessageId }
const reason = (r: Result.Result<unknown, { reason: string }>) => (Result.isFailure(r) ? r.failure.reason : "accepted")

const talking = async () => {
  const world = await startedWorld(2, 3)
  await openConversation(world, 0, 1)
  const [a, b] = world.ids as [typeof world.ids[0], typeof world.ids[0]]
  return { world, a, b }
}

describe("re-establishing over the wire", () => {
  it("asking again after leaving is a request the other side must answer (both sides, signed frames through the broker)", async () => {
    for (const leaver of [0, 1] as const) {
      const { world } = await talking()
      const other = leaver === 0 ? 1 : 0
      const [me, them] = [world.ids[leaver]!, world.ids[other]!]
      expect(await world.command(leaver, { _tag: "conversation.leave", peer: them })).toBeNull()
      await world.drain()
      expect(await world.command(leaver, { _tag: "conversation.request", peer: them })).toBeNull()
      await world.drain()
      expect((await world.state(leaver)).conversations.get(them)?.value).toBe("outgoing")
      expect((await world.state(other)).conversations.get(me)?.value).toBe("incoming")
      expect(await world.command(other, { _tag: "conversation.accept", peer: me })).toBeNull()
      await world.drain()
      expect((await world.state(leaver)).conversations.get(them)?.value).toBe("active")
      expect((await world.state(other)).conversations.get(me)?.value).toBe("active")
    }
  })
})

describe("closing a conversation out of sight (/close)", () => {
  it("only an ended one; it stays closed through a replay of the log, and either side moving again brings it back", async () => {
    const { world, a, b } = await talking()
    const dismiss = { _tag: "conversation.dismiss", peer: b } as const
    expect(await world.command(0, dismiss)).toMatch(/is active: leave, withdraw or refuse it first/)
    expect(await world.command(0, { _tag: "conversation.leave", peer: b })).toBeNull()
    await world.drain()
    expect(await world.command(0, dismiss)).toBeNull()
    expect((await world.state(0)).dismissed.has(b)).toBe(true)
    expect(await world.command(0, dismiss)).toMatch(/already closed/)
    expect(replay(await world.records(0)).dismissed.has(b)).toBe(true)
    // b asks again: the request is shown, not hidden by the old close.
    expect(await world.command(1, { _tag: "conversation.request", peer: a })).toBeNull()
    await world.drain()
    expect((await world.state(0)).conversations.get(b)?.value).toBe("incoming")
    expect((await world.state(0)).dismissed.has(b)).toBe(false)
  })

  it("a request to an id nobody answers is withdrawn, then closed; nothing to close with a stranger", async () => {
    const world = await startedWorld(1, 5)
    const typo = "user-444" as UserId
    expect(await world.command(0, { _tag: "conversation.dismiss", peer: typo })).toMatch(/no conversation with user-444 to close/)
    expect(await world.command(0, { _tag: "conversation.request", peer: typo })).toBeNull()
    expect(await world.command(0, { _tag: "conversation.dismiss", peer: typo })).toMatch(/is outgoing/)
    expect(await world.command(0, { _tag: "conversation.leave", peer: typo })).toBeNull()
    expect(await world.command(0, { _tag: "conversation.dismiss", peer: typo })).toBeNull()
    expect(replay(await world.records(0)).dismissed.has(typo)).toBe(true)
    // Asking again reopens it.
    expect(await world.command(0, { _tag: "conversation.request", peer: typo })).toBeNull()
    expect((await world.state(0)).dismissed.has(typo)).toBe(false)
  })
})

describe("commands the core refuses", () => {
  it("text that is empty, too long, or too long once JSON-escaped", async () => {
    const { world, b } = await talking()
    const state = await world.state(0)
    const send = (text: string) => reason(decideCommand(state, { _tag: "message.send", target: { _tag: "peer", peer: b }, text }, context))
    expect(send("hello")).toBe("accepted")
    expect(send("   ")).toBe("empty message")
    expect(send("x".repeat(MAX_TEXT_CHARS + 1))).toMatch(/too long/)
    // 4000 control characters are legal text but escape to 6 bytes each.
    expect(send("\u0001".repeat(MAX_TEXT_CHARS))).toMatch(/too long once encoded/)
  })

  it("talking to oneself, twice, or without a conversation", async () => {
    const { world, a, b } = await talking()
    const state = await world.state(0)
    expect(reason(decideCommand(state, { _tag: "conversation.request", peer: a }, context))).toMatch(/yourself/)
    expect(reason(decideCommand(state, { _tag: "conversation.request", peer: b }, context))).toMatch(/already talking/)
    expect(reason(decideCommand(state, { _tag: "conversation.accept", peer: b }, context))).toMatch(/no pending request/)
  })

  it("groups: creating twice, joining what does not exist, deciding without leading", async () => {
    const { world, a, b } = await talking()
    const team = "team" as GroupName
    expect(reason(decideCommand(await world.state(1), { _tag: "group.join", group: team }, context))).toMatch(/no group named/)
    await world.command(0, { _tag: "group.create", group: team })
    await world.drain()
    const [stateA, stateB] = [await world.state(0), await world.state(1)]
    expect(reason(decideCommand(stateB, { _tag: "group.create", group: team }, context))).toMatch(/already exists/)
    expect(reason(decideCommand(stateB, { _tag: "group.accept", group: team, user: a }, context))).toMatch(/do not lead/)
    expect(reason(decideCommand(stateA, { _tag: "group.accept", group: team, user: b }, context))).toMatch(/no pending request/)
    expect(reason(decideCommand(stateB, { _tag: "message.send", target: { _tag: "group", group: team }, text: "hi" }, context))).toMatch(/not a member/)
  })
})

/** Commands the core refuses, with the reason the user reads (the negative space of decideCommand). */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decideCommand } from "../../domain/chat/decide.ts"
import { replay } from "../../domain/chat/chat-state.ts"
import type { GroupName, MessageId, UserId } from "../../domain/ids.ts"
import { Cluster } from "../../domain/sim/cluster.ts"
import { MAX_TEXT_CHARS } from "../../domain/wire/messages.ts"

const context = { now: 1, newMessageId: () => "abcdefgh12345678" as MessageId }
const reason = (r: Result.Result<unknown, { reason: string }>) => (Result.isFailure(r) ? r.failure.reason : "accepted")

const talking = () => {
  const cluster = new Cluster({ seed: 3, users: 2 })
  cluster.command(0, { _tag: "session.start" })
  cluster.command(1, { _tag: "session.start" })
  const [a, b] = [cluster.users[0]!, cluster.users[1]!]
  cluster.command(0, { _tag: "conversation.request", peer: b.id })
  cluster.drain()
  cluster.command(1, { _tag: "conversation.accept", peer: a.id })
  cluster.drain()
  return { cluster, a, b }
}

describe("re-establishing over the wire", () => {
  it("asking again after leaving is a request the other side must answer (both sides, through the codec)", () => {
    for (const leaver of [0, 1] as const) {
      const { cluster, a, b } = talking()
      const [me, other] = leaver === 0 ? [a, b] : [b, a]
      expect(cluster.command(leaver, { _tag: "conversation.leave", peer: other.id })).toBeNull()
      cluster.drain()
      expect(cluster.command(leaver, { _tag: "conversation.request", peer: other.id })).toBeNull()
      cluster.drain()
      expect(me.state.conversations.get(other.id)?.value).toBe("outgoing")
      expect(other.state.conversations.get(me.id)?.value).toBe("incoming")
      expect(cluster.command(leaver === 0 ? 1 : 0, { _tag: "conversation.accept", peer: me.id })).toBeNull()
      cluster.drain()
      expect(me.state.conversations.get(other.id)?.value).toBe("active")
      expect(other.state.conversations.get(me.id)?.value).toBe("active")
    }
  })
})

describe("commands the core refuses", () => {
  it("text that is empty, too long, or too long once JSON-escaped", () => {
    const { a, b } = talking()
    const send = (text: string) => reason(decideCommand(a.state, { _tag: "message.send", target: { _tag: "peer", peer: b.id }, text }, context))
    expect(send("hello")).toBe("accepted")
    expect(send("   ")).toBe("empty message")
    expect(send("x".repeat(MAX_TEXT_CHARS + 1))).toMatch(/too long/)
    // 4000 control characters are legal text but escape to 6 bytes each.
    expect(send("\u0001".repeat(MAX_TEXT_CHARS))).toMatch(/too long once encoded/)
  })

  it("talking to oneself, twice, or without a conversation", () => {
    const { a, b } = talking()
    expect(reason(decideCommand(a.state, { _tag: "conversation.request", peer: a.id }, context))).toMatch(/yourself/)
    expect(reason(decideCommand(a.state, { _tag: "conversation.request", peer: b.id }, context))).toMatch(/already talking/)
    expect(reason(decideCommand(a.state, { _tag: "conversation.accept", peer: b.id }, context))).toMatch(/no pending request/)
  })

  it("groups: creating twice, joining what does not exist, deciding without leading", () => {
    const { cluster, a, b } = talking()
    const team = "team" as GroupName
    expect(reason(decideCommand(b.state, { _tag: "group.join", group: team }, context))).toMatch(/no group named/)
    cluster.command(0, { _tag: "group.create", group: team })
    cluster.drain()
    expect(reason(decideCommand(b.state, { _tag: "group.create", group: team }, context))).toMatch(/already exists/)
    expect(reason(decideCommand(b.state, { _tag: "group.accept", group: team, user: a.id }, context))).toMatch(/do not lead/)
    expect(reason(decideCommand(a.state, { _tag: "group.accept", group: team, user: b.id }, context))).toMatch(/no pending request/)
    expect(reason(decideCommand(b.state, { _tag: "message.send", target: { _tag: "group", group: team }, text: "hi" }, context))).toMatch(/not a member/)
  })
})

describe("closing a conversation out of sight (/close)", () => {
  it("only an ended one; it stays closed through a replay of the log, and either side moving again brings it back", () => {
    const { cluster, a, b } = talking()
    const dismiss = { _tag: "conversation.dismiss", peer: b.id } as const
    expect(cluster.command(0, dismiss)).toMatch(/is active: leave, withdraw or refuse it first/)
    expect(cluster.command(0, { _tag: "conversation.leave", peer: b.id })).toBeNull()
    cluster.drain()
    expect(cluster.command(0, dismiss)).toBeNull()
    expect(a.state.dismissed.has(b.id)).toBe(true)
    expect(cluster.command(0, dismiss)).toMatch(/already closed/)
    expect(replay(a.log).dismissed.has(b.id)).toBe(true)
    // b asks again: the request is shown, not hidden by the old close.
    expect(cluster.command(1, { _tag: "conversation.request", peer: a.id })).toBeNull()
    cluster.drain()
    expect(a.state.conversations.get(b.id)?.value).toBe("incoming")
    expect(a.state.dismissed.has(b.id)).toBe(false)
  })

  it("a request to an id nobody answers is withdrawn, then closed; nothing to close with a stranger", () => {
    const cluster = new Cluster({ seed: 5, users: 1 })
    cluster.command(0, { _tag: "session.start" })
    const [a] = [cluster.users[0]!]
    const typo = "user-444" as UserId
    expect(cluster.command(0, { _tag: "conversation.dismiss", peer: typo })).toMatch(/no conversation with user-444 to close/)
    expect(cluster.command(0, { _tag: "conversation.request", peer: typo })).toBeNull()
    expect(cluster.command(0, { _tag: "conversation.dismiss", peer: typo })).toMatch(/is outgoing/)
    expect(cluster.command(0, { _tag: "conversation.leave", peer: typo })).toBeNull()
    expect(cluster.command(0, { _tag: "conversation.dismiss", peer: typo })).toBeNull()
    expect(replay(a.log).dismissed.has(typo)).toBe(true)
    // Asking again reopens it.
    expect(cluster.command(0, { _tag: "conversation.request", peer: typo })).toBeNull()
    expect(a.state.dismissed.has(typo)).toBe(false)
  })
})

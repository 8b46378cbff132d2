/**
 * A group's information overtaken by its next version: the broker does not keep the order of the
 * leader's publications, so v3 can come after v4. Members who held v3 when they wrote sent under v3;
 * its key must still be kept, from the leader only (found by the simulator: seed 42, 50 users,
 * 20,000 steps lost 15 group messages this way).
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { nodeCryptoPrimitives as crypto } from "../../adapters/system/node-crypto.ts"
import { evolve, initialChatState, type ChatState } from "../../domain/chat/chat-state.ts"
import type { LogEntry } from "../../domain/events.ts"
import { topics, type GroupName, type MessageId, type UserId } from "../../domain/ids.ts"
import { decideOpened } from "../../domain/trust/decide-trust.ts"
import { publicKeysOf, type Identity } from "../../domain/trust/identity.ts"
import { makeSecureChannel } from "../../domain/trust/secure-channel.ts"
import { MAX_GROUP_KEYS_KEPT } from "../../domain/trust/trust-state.ts"
import type { GroupInfo } from "../../domain/wire/messages.ts"

const identity = (user: string, seed: number): Identity => ({
  user: user as UserId,
  signSeed: new Uint8Array(32).fill(seed),
  agreeSeed: new Uint8Array(32).fill(seed + 100),
})
const alice = identity("user-11111", 1)
const bob = identity("user-22222", 2)
const carol = identity("user-33333", 3)
const group = "room-1" as GroupName

const stateOf = (me: Identity, ...pinned: Identity[]): ChatState => ({
  ...initialChatState(),
  me: me.user,
  trust: { pins: Object.fromEntries(pinned.map((p) => [p.user, publicKeysOf(crypto, p)])), keyChanges: {}, groupKeys: {} },
})

const infoOf = (version: number, leader: Identity = alice): GroupInfo => ({
  name: group, leader: leader.user, members: [alice.user, bob.user, carol.user], version, foundedClock: 1, foundedBy: alice.user, dissolved: false,
})

let ids = 0
/** The group information `info` as its signer publishes it, the keys wrapped for the members it pinned. */
const infoFrame = (signer: Identity, info: GroupInfo): Uint8Array => {
  const sealed = makeSecureChannel(crypto, signer).seal(stateOf(signer, alice, bob, carol), {
    topic: topics.groupInfo(group),
    retain: true,
    envelope: { v: 1, id: `message${String(++ids).padStart(4, "0")}` as MessageId, from: signer.user, ts: 1_700_000_000_000, clock: 5 + ids, body: { _tag: "group.info", info } },
  })
  if (Result.isFailure(sealed)) throw new Error(sealed.failure)
  return sealed.success
}

const context = { now: 1_700_000_000_000, newMessageId: () => `bobmessage${String(++ids).padStart(4, "0")}` as MessageId }

/** What Bob stores for the frame (nothing if it is refused), and his state after it. */
const receive = (state: ChatState, frame: Uint8Array): { readonly entries: ReadonlyArray<LogEntry>; readonly state: ChatState } => {
  const opened = makeSecureChannel(crypto, bob).open(state, topics.groupInfo(group), frame)
  if (Result.isFailure(opened)) throw new Error(opened.failure.reason)
  const decided = decideOpened(state, topics.groupInfo(group), opened.success, context)
  const entries = Result.isSuccess(decided) ? decided.success : []
  let next = state
  for (const entry of entries) next = evolve(next, { seq: next.lastSeq + 1, ...entry })
  return { entries, state: next }
}

const keptVersions = (state: ChatState): ReadonlyArray<number> => (state.trust.groupKeys[group] ?? []).map((k) => k.version)

describe("a group key whose information came after the next version", () => {
  const newer = receive(stateOf(bob, alice, carol), infoFrame(alice, infoOf(4))).state

  it("is kept when the leader gave it: what members sent under that version stays readable", () => {
    expect(keptVersions(newer)).toEqual([4])
    const late = receive(newer, infoFrame(alice, infoOf(3)))
    expect(late.entries.map((e) => e.event._tag)).toEqual(["group.key.received"])
    expect(keptVersions(late.state)).toEqual([3, 4])
    // The information itself stays the newer one.
    expect(late.state.groups.get(group)?.context.info?.version).toBe(4)
    // Heard again, it changes nothing.
    expect(receive(late.state, infoFrame(alice, infoOf(3))).entries).toEqual([])
  })

  it("is not kept from anyone but the group's leader, nor older than the keys kept", () => {
    expect(receive(newer, infoFrame(carol, infoOf(3, carol))).entries).toEqual([])
    // Alice signing information that names another leader gives no key either.
    expect(receive(newer, infoFrame(alice, infoOf(3, carol))).entries).toEqual([])
    const far = receive(stateOf(bob, alice, carol), infoFrame(alice, infoOf(4 + MAX_GROUP_KEYS_KEPT))).state
    expect(receive(far, infoFrame(alice, infoOf(4))).entries).toEqual([])
    expect(receive(far, infoFrame(alice, infoOf(5))).entries.map((e) => e.event._tag)).toEqual(["group.key.received"])
  })
})

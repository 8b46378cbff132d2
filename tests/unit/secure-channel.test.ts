/**
 * The signed, encrypted frame without a broker: every byte the signature covers, the associated
 * data that binds ciphertext to its message, and the group-key rules.
 */
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { nodeCryptoPrimitives as crypto } from "../../adapters/system/node-crypto.ts"
import { initialChatState, type ChatState } from "../../domain/chat/chat-state.ts"
import type { Outgoing } from "../../domain/events.ts"
import { topics, type GroupName, type MessageId, type UserId } from "../../domain/ids.ts"
import { publicKeysOf, type Identity } from "../../domain/trust/identity.ts"
import { makeSecureChannel } from "../../domain/trust/secure-channel.ts"
import type { Body } from "../../domain/wire/messages.ts"
import { NUM_RUNS } from "../support/properties.ts"

const identity = (user: string, seed: number): Identity => ({
  user: user as UserId,
  signSeed: new Uint8Array(32).fill(seed),
  agreeSeed: new Uint8Array(32).fill(seed + 100),
})
const alice = identity("user-11111", 1)
const bob = identity("user-22222", 2)
const carol = identity("user-33333", 3)
const pairTopic = topics.talk(alice.user, bob.user)

/** A state of `me` that has pinned the others' keys. */
const stateOf = (me: Identity, ...pinned: Identity[]): ChatState => ({
  ...initialChatState(),
  me: me.user,
  trust: { pins: Object.fromEntries(pinned.map((p) => [p.user, publicKeysOf(crypto, p)])), keyChanges: {}, groupKeys: {} },
})

let ids = 0
const out = (from: Identity, topic: string, body: Body): Outgoing => ({
  topic: topic as Outgoing["topic"],
  retain: false,
  envelope: { v: 1, id: `message${String(++ids).padStart(4, "0")}` as MessageId, from: from.user, ts: 1_700_000_000_000, clock: 5, body },
})

const sealOk = (from: Identity, state: ChatState, message: Outgoing) => {
  const sealed = makeSecureChannel(crypto, from).seal(state, message)
  if (Result.isFailure(sealed)) throw new Error(sealed.failure)
  return sealed.success
}

describe("signed frames", () => {
  const aliceToBob = out(alice, pairTopic, { _tag: "chat.message", text: "hello Bob", n: 1 })
  const frame = sealOk(alice, stateOf(alice, bob), aliceToBob)
  const bobChannel = makeSecureChannel(crypto, bob)

  it("open to the peer, with the text decrypted, and to nobody else", () => {
    const opened = bobChannel.open(stateOf(bob, alice), pairTopic, frame)
    expect(Result.isSuccess(opened) && opened.success.envelope.body).toEqual({ _tag: "chat.message", text: "hello Bob", n: 1 })
    expect(new TextDecoder().decode(frame)).not.toContain("hello Bob")
    // Carol has the frame and Alice's public keys, but not the pair's key.
    const byCarol = makeSecureChannel(crypto, carol).open(stateOf(carol, alice), pairTopic, frame)
    expect(Result.isFailure(byCarol)).toBe(true)
  })

  it("seal deterministically: a resend is the same bytes", () => {
    expect(sealOk(alice, stateOf(alice, bob), aliceToBob)).toEqual(frame)
  })

  it("refuse a frame moved to another topic, and any changed byte of it", () => {
    const moved = bobChannel.open(stateOf(bob, alice), topics.control(bob.user), frame)
    expect(Result.isFailure(moved) && moved.failure.reason).toBe("bad signature")
    let refused = 0
    fc.assert(
      fc.property(fc.integer({ min: 0, max: frame.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const bytes = Uint8Array.from(frame)
        bytes[at] = bytes[at]! ^ flip
        const opened = bobChannel.open(stateOf(bob, alice), pairTopic, bytes)
        // A change that survives is one JSON cannot see (e.g. an escape written another way) and
        // then the content is the same message; anything else is refused.
        if (Result.isSuccess(opened)) expect(opened.success.envelope.body).toEqual({ _tag: "chat.message", text: "hello Bob", n: 1 })
        else refused += 1
      }),
      { numRuns: NUM_RUNS },
    )
    expect(refused).toBeGreaterThan(NUM_RUNS * 0.95)
  })

  it("refuse keys other than the pinned ones, and anyone signing as me", () => {
    const mallory = identity(alice.user, 9) // claims to be Alice, with keys of its own
    const forged = sealOk(mallory, stateOf(mallory, bob), out(mallory, topics.control(bob.user), { _tag: "chat.request", to: bob.user, attempt: 1, ends: 0 }))
    const opened = bobChannel.open(stateOf(bob, alice), topics.control(bob.user), forged)
    expect(Result.isFailure(opened) && opened.failure.keyChange?.user).toBe(alice.user)
    const asBob = sealOk(identity(bob.user, 8), stateOf(identity(bob.user, 8)), out(identity(bob.user, 8), topics.control(bob.user), { _tag: "group.leave", group: "g" as GroupName }))
    const echo = bobChannel.open(stateOf(bob), topics.control(bob.user), asBob)
    expect(Result.isFailure(echo) && echo.failure.reason).toMatch(/forged/)
  })

  it("bind the ciphertext to its message: a box moved to another number or id does not open", () => {
    const first = JSON.parse(new TextDecoder().decode(frame))
    const inner = JSON.parse(first.m)
    for (const change of [{ id: "message9999" }, { body: { ...inner.body, n: 2 } }, { from: carol.user }]) {
      const message = JSON.stringify({ ...inner, ...change })
      // Re-signed by Alice herself, so only the associated data is wrong.
      const resigned = new TextEncoder().encode(JSON.stringify({
        ...first,
        m: message,
        s: Buffer.from(crypto.sign(alice.signSeed, new TextEncoder().encode(`mqtt-chat/2\n${pairTopic}\n${first.k}\n${message}`))).toString("base64url"),
      }))
      const opened = bobChannel.open(stateOf(bob, alice, carol), pairTopic, resigned)
      expect(Result.isFailure(opened)).toBe(true)
    }
  })

  it("refuse plain chat text and unsigned messages of the old protocol", () => {
    const plain = out(alice, pairTopic, { _tag: "chat.message", text: "x", n: 1 })
    const envelope = JSON.stringify(plain.envelope)
    const unsigned = bobChannel.open(stateOf(bob, alice), pairTopic, new TextEncoder().encode(envelope))
    expect(Result.isFailure(unsigned) && unsigned.failure.reason).toMatch(/unsigned/)
  })
})

describe("group keys", () => {
  const info = { name: "g" as GroupName, leader: alice.user, members: [alice.user, bob.user, carol.user], version: 3, foundedClock: 1, foundedBy: alice.user, dissolved: false }
  const leaderState = stateOf(alice, bob)
  const infoFrame = sealOk(alice, leaderState, { ...out(alice, topics.groupInfo(info.name), { _tag: "group.info", info }), retain: true })

  it("are wrapped for each member whose keys the leader has, and stripped before anything is stored", () => {
    const inner = JSON.parse(JSON.parse(new TextDecoder().decode(infoFrame)).m)
    expect(inner.body.info.keys.map((k: { member: string }) => k.member)).toEqual([bob.user]) // Carol's keys unknown to Alice
    const opened = makeSecureChannel(crypto, bob).open(stateOf(bob, alice), topics.groupInfo(info.name), infoFrame)
    expect(Result.isSuccess(opened) && opened.success.groupKey?.version).toBe(3)
    expect(Result.isSuccess(opened) && "keys" in (opened.success.envelope.body as { info: object }).info).toBe(false)
    const byCarol = makeSecureChannel(crypto, carol).open(stateOf(carol, alice), topics.groupInfo(info.name), infoFrame)
    expect(Result.isSuccess(byCarol) && byCarol.success.groupKey).toBeNull()
  })
})

/**
 * Floods for tests and the bench, as an attacker can send them since every message is a signed
 * frame (docs/protocol.md §3.1): many fake ids, EACH WITH KEYS OF ITS OWN (an attacker mints as
 * many as it likes), each message validly signed by its fake id. None is shared between two ids,
 * so the victim pays what it would pay for real: one new key per fake id to check a signature
 * with, nothing it could cache. Keys are minted with node:crypto's key generation directly (the
 * Crypto port only derives keys from seeds, several times slower); the frames are written here
 * from the document, like tests/support/forger.ts.
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto"
import { topics, type MessageId, type UserId } from "../../domain/ids.ts"
import { toBase64Url, utf8 } from "../../domain/trust/bytes.ts"
import { encodeEnvelope, type Body, type Envelope } from "../../domain/wire/messages.ts"
import { signedFrameText } from "./forger.ts"

export interface FakeId {
  readonly user: UserId
  /** `<ed25519>.<x25519>`, base64url, as in a frame's `k`. */
  readonly keys: string
  readonly signingKey: KeyObject
}

const rawPublic = (key: KeyObject): Uint8Array => new Uint8Array(key.export({ format: "der", type: "spki" }).subarray(12))

/**
 * A fake id with a new Ed25519 key pair and an X25519 public key of its own: 32 random bytes (any
 * 32 bytes are a valid X25519 public key, RFC 7748; a flood never needs to decrypt anything, so
 * the attacker need not know its private half — and minting one would double the cost here).
 */
export const mintFakeId = (user: string): FakeId => {
  const signing = generateKeyPairSync("ed25519")
  return { user: user as UserId, keys: `${toBase64Url(rawPublic(signing.publicKey))}.${toBase64Url(new Uint8Array(randomBytes(32)))}`, signingKey: signing.privateKey }
}

/** `envelope` (its `from` should be the fake id's) in a frame for `topic`, signed with the fake id's keys. */
export const signedFrame = (id: FakeId, topic: string, envelope: Envelope): Uint8Array => {
  return utf8(signedFrameText(topic, id.keys, encodeEnvelope(envelope), (bytes) => new Uint8Array(sign(null, bytes, id.signingKey))))
}

/** `count` fake ids, user-`first`, user-`first + 1`, …, each minted with keys of its own. */
export const mintFakeIds = (first: number, count: number): ReadonlyArray<FakeId> =>
  Array.from({ length: count }, (_, i) => mintFakeId(`user-${first + i}`))

/**
 * The classic control flood on `victim`: one message from each fake id, alternately a request and
 * an acceptance (of a conversation nobody asked for), each a validly signed frame on the victim's
 * control topic. Ids `${idPrefix}${i}` (i padded to 10 digits).
 */
export const controlFlood = (victim: UserId, ids: ReadonlyArray<FakeId>, options: { readonly idPrefix: string; readonly ts?: number }): Array<Uint8Array> =>
  ids.map((id, i) => {
    const body: Body = i % 2 === 0
      ? { _tag: "chat.request", to: victim, attempt: 1, ends: 0 }
      : { _tag: "chat.accept", to: victim, attempt: 1, topic: topics.talk(victim, id.user) }
    const envelope: Envelope = { v: 1, id: `${options.idPrefix}${String(i).padStart(10, "0")}` as MessageId, from: id.user, ts: options.ts ?? 1, clock: 1, body }
    return signedFrame(id, topics.control(victim), envelope)
  })

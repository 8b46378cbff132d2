/**
 * An attacker's tools for tests: a real identity (its own valid keys), and frames signed with them
 * that claim any sender. What the attacker cannot do is sign with somebody else's keys — that is
 * the point under test.
 */
import { randomBytes } from "node:crypto"
import { nodeCryptoPrimitives as crypto } from "../../adapters/system/node-crypto.ts"
import type { UserId } from "../../domain/ids.ts"
import { toBase64Url, utf8 } from "../../domain/trust/bytes.ts"
import { publicKeysOf, type Identity } from "../../domain/trust/identity.ts"

export interface Forger {
  readonly keys: string
  /** A frame signed by the forger for `topic`, carrying `envelope` (any JSON) as its message. */
  frame(topic: string, envelope: unknown): string
  /** The same, with the message text given verbatim. */
  frameText(topic: string, message: string): string
}

export const makeForger = (user = "user-66666"): Forger => {
  const identity: Identity = { user: user as UserId, signSeed: new Uint8Array(randomBytes(32)), agreeSeed: new Uint8Array(randomBytes(32)) }
  const keys = publicKeysOf(crypto, identity)
  const frameText = (topic: string, message: string) => {
    const signature = crypto.sign(identity.signSeed, utf8(`mqtt-chat/2\n${topic}\n${keys}\n${message}`))
    return JSON.stringify({ v: 2, k: keys, m: message, s: toBase64Url(signature) })
  }
  return { keys, frameText, frame: (topic, envelope) => frameText(topic, JSON.stringify(envelope)) }
}

let counter = 0
/** An envelope as a sender would write it; `from` is just a claim. */
export const forgedEnvelope = (from: string, body: unknown, extra: Record<string, unknown> = {}) => ({
  v: 1,
  id: `forged${(++counter).toString(36).padStart(6, "0")}${randomBytes(4).toString("hex")}`,
  from,
  ts: 1_700_000_000_000,
  clock: 10,
  body,
  ...extra,
})

/**
 * An attacker's tools for tests: a real identity (its own valid keys), and frames signed with them
 * that claim any sender. What the attacker cannot do is sign with somebody else's keys — that is
 * the point under test.
 */
import { randomBytes } from "node:crypto"
import { nodeCryptoPrimitives as crypto } from "../../adapters/system/node-crypto.ts"
import type { UserId } from "../../domain/ids.ts"
import { concatBytes, fromBase64Url, toBase64Url, utf8 } from "../../domain/trust/bytes.ts"
import { publicKeysOf, type Identity } from "../../domain/trust/identity.ts"

export interface Forger {
  readonly keys: string
  /** A frame signed by the forger for `topic`, carrying `envelope` (any JSON) as its message. */
  frame(topic: string, envelope: unknown): string
  /** The same, with the message text given verbatim. */
  frameText(topic: string, message: string): string
}

export const makeForger = (user = "user-66666"): Forger => {
  const signer = makeSigner({ user: user as UserId, signSeed: new Uint8Array(randomBytes(32)), agreeSeed: new Uint8Array(randomBytes(32)) })
  return { keys: signer.keys, frameText: signer.frameText, frame: (topic, envelope) => signer.frameText(topic, JSON.stringify(envelope)) }
}

/** A frame as protocol.md §3.1 writes it: `sign` signs the bytes the signature covers. */
export const signedFrameText = (topic: string, keys: string, message: string, sign: (bytes: Uint8Array) => Uint8Array): string =>
  JSON.stringify({ v: 2, k: keys, m: message, s: toBase64Url(sign(utf8(`mqtt-chat/2\n${topic}\n${keys}\n${message}`))) })

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

/**
 * A real user's keys, used by a test to send what that (malicious) user could send: any envelope
 * text, validly signed; chat text sealed for `peerKeys` following protocol.md §3.1.1 — written here
 * from the document, not with the app's own sealing, so the two implementations check each other.
 */
export const makeSigner = (identity: Identity) => {
  const keys = publicKeysOf(crypto, identity)
  const frameText = (topic: string, message: string) => signedFrameText(topic, keys, message, (bytes) => crypto.sign(identity.signSeed, bytes))
  /** `message` with a plain `chat.message` body turned into `chat.sealed`, every other byte kept. */
  const sealChatText = (topic: string, message: string, peerKeys: string): string => {
    const body = /"_tag":"chat\.message","text":("(?:[^"\\]|\\.)*"),"n":(-?[0-9.eE+-]+)/.exec(message)
    const id = /"id":"([^"]*)"/.exec(message)?.[1]
    const from = /"from":"([^"]*)"/.exec(message)?.[1]
    const agree = fromBase64Url(peerKeys.split(".")[1] ?? "")
    if (body === null || id === undefined || from === undefined || agree === null) return message
    const text = JSON.parse(body[1]!) as string
    const n = String(JSON.parse(body[2]!))
    const shared = crypto.agree(identity.agreeSeed, agree)
    if (shared === null) return message
    const key = crypto.hkdf(shared, utf8("mqtt-chat pair key"), utf8(topic), 32)
    const aad = utf8(`chat\n${topic}\n${from}\n${id}\n${n}`)
    const plaintext = utf8(text)
    const nonce = crypto.hmac(key, concatBytes(aad, new Uint8Array([0]), plaintext)).subarray(0, 12)
    const box = toBase64Url(concatBytes(nonce, crypto.seal(key, nonce, plaintext, aad)))
    return message.replace(body[0], `"_tag":"chat.sealed","box":"${box}","n":${body[2]}`)
  }
  return { keys, frameText, sealChatText }
}

/**
 * A profile's identity: its user id and two key seeds (Ed25519 to sign, X25519 to agree on keys).
 * The public half travels as one string, `<ed25519>.<x25519>` in base64url, in every signed frame;
 * peers pin it on first contact (trust on first use) and compare fingerprints out of band.
 */
import { Schema } from "effect"
import { compareUserIds, UserId } from "../ids.ts"
import type { CryptoPrimitives } from "../ports/crypto.port.ts"
import { fromBase64Url, toBase64Url, utf8 } from "./bytes.ts"

export interface Identity {
  readonly user: UserId
  readonly signSeed: Uint8Array
  readonly agreeSeed: Uint8Array
}

/** `<ed25519 public>.<x25519 public>`, 43 base64url characters each. */
export const PUBLIC_KEYS_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]\.[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/
export const PublicKeys = Schema.String.check(Schema.isPattern(PUBLIC_KEYS_PATTERN)).pipe(Schema.brand("PublicKeys"))
export type PublicKeys = typeof PublicKeys.Type

export interface PublicKeyBytes {
  readonly sign: Uint8Array
  readonly agree: Uint8Array
}

export const publicKeysOf = (crypto: CryptoPrimitives, identity: Identity): PublicKeys =>
  `${toBase64Url(crypto.signingPublicKey(identity.signSeed))}.${toBase64Url(crypto.agreementPublicKey(identity.agreeSeed))}` as PublicKeys

const isPublicKeys = Schema.is(PublicKeys)

/** The two raw keys of a keys string; null unless it is exactly two 32-byte keys. */
export const publicKeyBytes = (keys: string): PublicKeyBytes | null => {
  if (!isPublicKeys(keys)) return null
  const [sign, agree] = keys.split(".")
  const s = fromBase64Url(sign!)
  const a = fromBase64Url(agree!)
  return s !== null && a !== null && s.length === 32 && a.length === 32 ? { sign: s, agree: a } : null
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")

/** A short fingerprint of one user's keys: 20 hex digits in groups of 4. */
export const fingerprint = (crypto: CryptoPrimitives, keys: PublicKeys): string =>
  hex(crypto.sha256(utf8(`mqtt-chat fingerprint\n${keys}`)).subarray(0, 10)).match(/.{4}/g)!.join(" ")

/**
 * The safety number of a pair: the same 60 digits on both screens (each side's 30 come from its own
 * id and keys; the lower id's half first). Read it to each other: if it matches, nobody sits between.
 */
export const safetyNumber = (
  crypto: CryptoPrimitives,
  a: { readonly user: UserId; readonly keys: PublicKeys },
  b: { readonly user: UserId; readonly keys: PublicKeys },
): string => {
  const [low, high] = compareUserIds(a.user, b.user) <= 0 ? [a, b] : [b, a]
  const half = (side: typeof a) => {
    const digest = crypto.sha256(utf8(`mqtt-chat safety number\n${side.user}\n${side.keys}`))
    // Six groups of five digits, each from 5 bytes (40 bits) mod 100,000.
    return Array.from({ length: 6 }, (_, i) => {
      let n = 0
      for (let j = 0; j < 5; j++) n = (n * 256 + digest[i * 5 + j]!) % 100_000
      return String(n).padStart(5, "0")
    })
  }
  return [...half(low), ...half(high)].join(" ")
}

/** The identity file's content (owner-only, beside the log). */
export const StoredIdentity = Schema.Struct({
  v: Schema.Literal(1),
  user: UserId,
  /** base64url of the 32-byte seeds. */
  sign: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{43}$/)),
  agree: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{43}$/)),
})
export type StoredIdentity = typeof StoredIdentity.Type

export const storeIdentity = (identity: Identity): StoredIdentity => ({
  v: 1,
  user: identity.user,
  sign: toBase64Url(identity.signSeed),
  agree: toBase64Url(identity.agreeSeed),
})

export const restoreIdentity = (stored: StoredIdentity): Identity | null => {
  const signSeed = fromBase64Url(stored.sign)
  const agreeSeed = fromBase64Url(stored.agree)
  if (signSeed === null || agreeSeed === null || signSeed.length !== 32 || agreeSeed.length !== 32) return null
  return { user: stored.user, signSeed, agreeSeed }
}

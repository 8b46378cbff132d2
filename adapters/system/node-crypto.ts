/**
 * The Crypto port on node:crypto: Ed25519, X25519, HKDF-SHA-256, HMAC-SHA-256, AES-256-GCM.
 * Key objects are built from raw bytes through fixed DER prefixes and cached (bounded): building
 * one costs more than the signature it serves.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  randomBytes,
  sign as edSign,
  verify as edVerify,
  type KeyObject,
} from "node:crypto"
import { Effect, Layer } from "effect"
import { Crypto, type CryptoPrimitives } from "../../domain/ports/crypto.port.ts"
import { mulberry32 } from "../../domain/ports/id-source.port.ts"

const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex")
const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex")
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex")
const SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex")

/** Distinct keys kept as KeyObjects; beyond this the oldest half is forgotten. */
const MAX_CACHED_KEYS = 4096

const cache = new Map<string, KeyObject>()
const cached = (kind: string, bytes: Uint8Array, make: () => KeyObject): KeyObject => {
  const id = kind + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")
  const hit = cache.get(id)
  if (hit !== undefined) return hit
  const made = make()
  if (cache.size >= MAX_CACHED_KEYS) {
    let drop = MAX_CACHED_KEYS / 2
    for (const key of cache.keys()) {
      if (drop-- <= 0) break
      cache.delete(key)
    }
  }
  cache.set(id, made)
  return made
}

const expect32 = (bytes: Uint8Array, what: string) => {
  if (bytes.length !== 32) throw new Error(`${what} must be 32 bytes, got ${bytes.length}`)
}

const privateKey = (prefix: Buffer, kind: string, seed: Uint8Array) => {
  expect32(seed, "a key seed")
  return cached(kind, seed, () => createPrivateKey({ key: Buffer.concat([prefix, seed]), format: "der", type: "pkcs8" }))
}
const publicKey = (prefix: Buffer, kind: string, raw: Uint8Array) =>
  cached(kind, raw, () => createPublicKey({ key: Buffer.concat([prefix, raw]), format: "der", type: "spki" }))

const rawPublic = (key: KeyObject): Uint8Array => new Uint8Array(key.export({ format: "der", type: "spki" }).subarray(12))

const GCM_TAG = 16

export const nodeCryptoPrimitives: CryptoPrimitives = {
  signingPublicKey: (seed) => rawPublic(createPublicKey(privateKey(PKCS8_ED25519, "es", seed))),
  agreementPublicKey: (seed) => rawPublic(createPublicKey(privateKey(PKCS8_X25519, "xs", seed))),
  sign: (seed, message) => new Uint8Array(edSign(null, message, privateKey(PKCS8_ED25519, "es", seed))),
  verify: (key, message, signature) => {
    if (key.length !== 32 || signature.length !== 64) return false
    try {
      return edVerify(null, message, publicKey(SPKI_ED25519, "ep", key), signature)
    } catch {
      return false
    }
  },
  agree: (seed, peer) => {
    if (peer.length !== 32) return null
    try {
      const shared = new Uint8Array(diffieHellman({ privateKey: privateKey(PKCS8_X25519, "xs", seed), publicKey: publicKey(SPKI_X25519, "xp", peer) }))
      // A low-order peer key gives the all-zero secret: nothing secret about it.
      return shared.every((b) => b === 0) ? null : shared
    } catch {
      return null
    }
  },
  hkdf: (ikm, salt, info, length) => new Uint8Array(hkdfSync("sha256", ikm, salt, info, length)),
  hmac: (key, data) => new Uint8Array(createHmac("sha256", key).update(data).digest()),
  sha256: (data) => new Uint8Array(createHash("sha256").update(data).digest()),
  seal: (key, nonce, plaintext, aad) => {
    const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: GCM_TAG })
    cipher.setAAD(aad)
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
  },
  open: (key, nonce, sealed, aad) => {
    if (key.length !== 32 || nonce.length !== 12 || sealed.length < GCM_TAG) return null
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: GCM_TAG })
      decipher.setAAD(aad)
      decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG))
      const body = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - GCM_TAG)), decipher.final()])
      return new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
    } catch {
      return null
    }
  },
}

export const NodeCrypto = {
  /** Real randomness for new keys. */
  layer: Layer.succeed(Crypto, Crypto.of({ ...nodeCryptoPrimitives, newSecret: Effect.sync(() => new Uint8Array(randomBytes(32))) })),
  /** Keys drawn from a seed: the same seed gives the same keys, so a simulation replays exactly. */
  layerSeeded: (seed: number) => {
    const next = mulberry32(seed ^ 0x5eed)
    return Layer.succeed(Crypto, Crypto.of({
      ...nodeCryptoPrimitives,
      newSecret: Effect.sync(() => Uint8Array.from({ length: 32 }, () => Math.floor(next() * 256))),
    }))
  },
} as const

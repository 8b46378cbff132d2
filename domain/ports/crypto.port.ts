/**
 * Cryptography, injected: Ed25519 signatures, X25519 agreement, HKDF/HMAC-SHA-256 and AES-256-GCM.
 * Every primitive here is deterministic; only `newSecret` draws randomness, so a simulation that
 * seeds it replays byte for byte. The real implementation is adapters/system/node-crypto.ts
 * (node:crypto). Secrets are 32-byte seeds; public keys are the raw 32-byte keys.
 */
import { Context } from "effect"
import type { Effect } from "effect"

export interface CryptoPrimitives {
  /** Ed25519 public key of a 32-byte seed. */
  signingPublicKey(seed: Uint8Array): Uint8Array
  /** X25519 public key of a 32-byte seed (the private scalar). */
  agreementPublicKey(seed: Uint8Array): Uint8Array
  /** Ed25519 signature (64 bytes). */
  sign(seed: Uint8Array, message: Uint8Array): Uint8Array
  /** False for a bad signature AND for a malformed key or signature: never throws. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean
  /** X25519 shared secret; null for a malformed or low-order peer key. */
  agree(seed: Uint8Array, peerPublicKey: Uint8Array): Uint8Array | null
  hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array
  hmac(key: Uint8Array, data: Uint8Array): Uint8Array
  sha256(data: Uint8Array): Uint8Array
  /** AES-256-GCM: ciphertext followed by the 16-byte tag. */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array
  /** null when the tag, key, nonce or associated data do not match. */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null
}

export class Crypto extends Context.Service<Crypto, CryptoPrimitives & {
  /** 32 random bytes: a new key seed. */
  readonly newSecret: Effect.Effect<Uint8Array>
}>()("mqtt-chat/domain/ports/Crypto") {}

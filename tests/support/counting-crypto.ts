/** The real crypto (node:crypto), counting signature checks: tests see which frames were verified. */
import { Effect, Layer } from "effect"
import { NodeCrypto } from "../../adapters/system/node-crypto.ts"
import { Crypto } from "../../domain/ports/crypto.port.ts"

export const countingCrypto = (counter: { verifies: number }): Layer.Layer<Crypto> =>
  Layer.effect(Crypto, Effect.map(Effect.service(Crypto), (real) => Crypto.of({
    ...real,
    verify: (publicKey, message, signature) => {
      counter.verifies += 1
      return real.verify(publicKey, message, signature)
    },
  }))).pipe(Layer.provide(NodeCrypto.layer))

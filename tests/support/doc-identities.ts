/**
 * The two identities of docs/protocol.md's frame examples: fixed seeds, so the examples are the
 * real output of the real sealing (which is deterministic) and tests/unit/protocol-doc.test.ts can
 * check them. Never use these keys for anything else: their seeds are in this file.
 */
import { initialChatState, type ChatState } from "../../domain/chat/chat-state.ts"
import type { UserId } from "../../domain/ids.ts"
import { nodeCryptoPrimitives as crypto } from "../../adapters/system/node-crypto.ts"
import { publicKeysOf, type Identity } from "../../domain/trust/identity.ts"

export const docAlice: Identity = { user: "user-32563" as UserId, signSeed: new Uint8Array(32).fill(1), agreeSeed: new Uint8Array(32).fill(101) }
export const docBob: Identity = { user: "user-10417" as UserId, signSeed: new Uint8Array(32).fill(2), agreeSeed: new Uint8Array(32).fill(102) }

export const docStateOf = (me: Identity, ...pinned: ReadonlyArray<Identity>): ChatState => ({
  ...initialChatState(),
  me: me.user,
  trust: { pins: Object.fromEntries(pinned.map((p) => [p.user, publicKeysOf(crypto, p)])), keyChanges: {}, groupKeys: {} },
})

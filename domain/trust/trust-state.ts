/**
 * What the log says about keys: each peer's pinned keys (trust on first use), keys that changed and
 * wait for the user's decision, and the group keys received per version of a group's information.
 * Folded by chat-state.ts's `step` like every other part of the state.
 */
import type { DomainEvent } from "../events.ts"
import type { UserId } from "../ids.ts"
import type { PublicKeys } from "./identity.ts"

/** Group keys kept per group: messages sealed under older versions than these are not readable. */
export const MAX_GROUP_KEYS_KEPT = 16

export interface GroupKey {
  readonly version: number
  /** Who wrapped it: the leader of that version. */
  readonly from: UserId
  /** base64url, 32 bytes. */
  readonly key: string
}

export interface TrustState {
  readonly pins: Readonly<Record<string, PublicKeys>>
  readonly keyChanges: Readonly<Record<string, PublicKeys>>
  readonly groupKeys: Readonly<Record<string, ReadonlyArray<GroupKey>>>
}

export const initialTrustState = (): TrustState => ({ pins: {}, keyChanges: {}, groupKeys: {} })

type TrustEvent = Extract<DomainEvent, { _tag: "peer.key.pinned" | "peer.key.changed" | "peer.key.trusted" | "group.key.received" }>

const without = <V>(record: Readonly<Record<string, V>>, key: string): Readonly<Record<string, V>> => {
  if (!(key in record)) return record
  const { [key]: _removed, ...rest } = record
  return rest
}

export const stepTrust = (trust: TrustState, event: TrustEvent): TrustState => {
  switch (event._tag) {
    case "peer.key.pinned":
      // First contact only: a pin is never replaced except by the user's own `trusted` decision.
      return trust.pins[event.user] !== undefined ? trust : { ...trust, pins: { ...trust.pins, [event.user]: event.keys } }
    case "peer.key.changed":
      return trust.pins[event.user] === undefined || trust.pins[event.user] === event.keys
        ? trust
        : { ...trust, keyChanges: { ...trust.keyChanges, [event.user]: event.keys } }
    case "peer.key.trusted":
      return { ...trust, pins: { ...trust.pins, [event.user]: event.keys }, keyChanges: without(trust.keyChanges, event.user) }
    case "group.key.received": {
      const kept = trust.groupKeys[event.group] ?? []
      if (kept.some((k) => k.version === event.version && k.from === event.from)) return trust
      const next = [...kept, { version: event.version, from: event.from, key: event.key }].sort((a, b) => a.version - b.version).slice(-MAX_GROUP_KEYS_KEPT)
      return { ...trust, groupKeys: { ...trust.groupKeys, [event.group]: next } }
    }
  }
}

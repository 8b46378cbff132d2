/**
 * Decisions about keys, around the protocol's own: a verified frame's sender is pinned with the first
 * record it causes, a key change is noted once for the user to decide on, a group key is kept when
 * the group's leader gave it. Pure, like chat/decide.ts.
 */
import { Result } from "effect"
import { isContact, requireMe, step, type ChatState } from "../chat/chat-state.ts"
import { decideIncoming, type DecisionContext, type Drop } from "../chat/decide.ts"
import type { LogEntry } from "../events.ts"
import type { UserId } from "../ids.ts"
import type { Envelope } from "../wire/messages.ts"
import type { PublicKeys } from "./identity.ts"
import type { OpenedFrame } from "./secure-channel.ts"
import { MAX_GROUP_KEYS_KEPT } from "./trust-state.ts"

/**
 * Whether the key is one the group's leader of that version gave, once the entries are applied: the
 * information adopted is that version, from the signer. Or the signer leads the group now and the key
 * is of a recent older version it led: the broker does not keep the order of the leader's
 * publications, so v22 may come after v23, and what members sent under v22 needs its key (seed 42).
 */
const givenByLeader = (state: ChatState, entries: ReadonlyArray<LogEntry>, env: Envelope, gained: NonNullable<OpenedFrame["groupKey"]>): boolean => {
  let after = state
  for (const entry of entries) after = step(after, { seq: after.lastSeq + 1, ...entry }).state
  const info = after.groups.get(gained.group)?.context.info ?? null
  // Information the group's machine did not adopt (not from its leader, too old) gives no key.
  if (info === null || info.leader !== env.from) return false
  if (info.version === gained.version) return true
  const framed = env.body._tag === "group.info" || env.body._tag === "group.accept" ? env.body.info : null
  return framed !== null && framed.leader === env.from && gained.version < info.version && gained.version > info.version - MAX_GROUP_KEYS_KEPT
}

/** A verified, decrypted frame → the entries to store: the protocol's decision plus what trust adds. */
export const decideOpened = (state: ChatState, topic: string, opened: OpenedFrame, context: DecisionContext): Result.Result<ReadonlyArray<LogEntry>, Drop> => {
  const env = opened.envelope
  const decided = decideIncoming(state, topic, env, context)
  const gained = opened.groupKey
  const known = gained !== null && (state.trust.groupKeys[gained.group] ?? []).some((k) => k.version === gained.version && k.from === env.from)
  const entries = Result.isSuccess(decided) ? decided.success : []
  const keyEntry: LogEntry | null =
    gained !== null && !known && givenByLeader(state, entries, env, gained)
      ? { at: context.now, clock: (entries.at(-1)?.clock ?? state.clock + 1), event: { _tag: "group.key.received", group: gained.group, version: gained.version, from: env.from, key: gained.key }, out: [] }
      : null
  const pin: LogEntry | null =
    env.from !== requireMe(state) && state.trust.pins[env.from] === undefined
      ? { at: context.now, clock: state.clock + 1, event: { _tag: "peer.key.pinned", user: env.from, keys: opened.keys }, out: [] }
      : null
  if (entries.length === 0 && keyEntry === null) {
    // A contact I never pinned (a log from before signing): their first signed frame pins them even
    // when it changes nothing else. Strangers get no record for nothing (and no scan: isContact is indexed).
    return pin !== null && isContact(state, env.from) ? Result.succeed([pin]) : decided
  }
  return Result.succeed([...(pin === null ? [] : [pin]), ...entries, ...(keyEntry === null ? [] : [keyEntry])])
}

/** A validly signed frame under keys other than the pinned ones: noted once per new key. */
export const decideKeyChange = (state: ChatState, change: { readonly user: UserId; readonly keys: PublicKeys }, context: DecisionContext): LogEntry | null => {
  if (state.trust.pins[change.user] === undefined || state.trust.pins[change.user] === change.keys) return null
  if (state.trust.keyChanges[change.user] === change.keys) return null
  return { at: context.now, clock: state.clock + 1, event: { _tag: "peer.key.changed", user: change.user, keys: change.keys }, out: [] }
}

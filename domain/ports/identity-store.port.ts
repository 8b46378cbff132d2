/**
 * Where a profile's identity (user id and key seeds) is kept: apart from the log, owner-only, so
 * that damage to the log can never silently give the profile a new identity. Implementations:
 * adapters/storage/identity-file.ts and the memory store below.
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import type { StoredIdentity } from "../trust/identity.ts"

export class IdentityStoreError extends Schema.TaggedError<IdentityStoreError>()("IdentityStoreError", {
  reason: Schema.Literals(["io", "corrupt", "exists"]),
  message: Schema.String,
}) {}

export class IdentityStore extends Context.Service<IdentityStore, {
  /** None when there is no identity yet; a damaged one is an error, never None. */
  readonly load: Effect.Effect<Option.Option<StoredIdentity>, IdentityStoreError>
  /** Creates it; fails with `exists` if one is there already (an identity is never overwritten). */
  save(identity: StoredIdentity): Effect.Effect<void, IdentityStoreError>
}>()("mqtt-chat/domain/ports/IdentityStore") {
  /** In memory: for tests and simulations. Pass a box to keep the identity across restarts. */
  static readonly layerMemory = (box: { current: StoredIdentity | null } = { current: null }) =>
    Layer.succeed(IdentityStore, IdentityStore.of({
      load: Effect.sync(() => Option.fromNullishOr(box.current)),
      save: (identity) =>
        box.current !== null
          ? Effect.fail(new IdentityStoreError({ reason: "exists", message: "the profile already has an identity" }))
          : Effect.sync(() => {
              box.current = identity
            }),
    }))
}

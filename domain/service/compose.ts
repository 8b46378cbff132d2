/**
 * How the service's layers fit together: the log and the system ports first, then the profile (it
 * needs the log), then the transport (it needs the profile's user id and Last Will), then the
 * service. Apps and tests pass the concrete adapters; this file names none. The identity store
 * and the crypto port come with the log: the profile checks the one against the other.
 */
import { Effect, Layer } from "effect"
import type { EventLog, EventLogError } from "../ports/event-log.port.ts"
import type { WallClock } from "../ports/clock.port.ts"
import type { IdSource } from "../ports/id-source.port.ts"
import type { Crypto } from "../ports/crypto.port.ts"
import type { IdentityStore } from "../ports/identity-store.port.ts"
import type { Transport, TransportError } from "../ports/transport.port.ts"
import type { UserDirectory } from "../ports/user-directory.port.ts"
import { ChatService, defaultChatServiceOptions, type ChatServiceOptions } from "./chat-service.ts"
import { Profile, type ProfileSnapshot } from "./profile.ts"
import { snapshotWriterLayer, type SnapshotOptions } from "../snapshot/snapshot-writer.ts"

export interface ChatLayers<E> {
  readonly log: Layer.Layer<EventLog, EventLogError>
  readonly clock: Layer.Layer<WallClock>
  readonly ids: Layer.Layer<IdSource>
  readonly crypto: Layer.Layer<Crypto>
  /** Where the profile's identity (id and key seeds) is kept, apart from the log. */
  readonly identities: Layer.Layer<IdentityStore>
  /** Built once the profile is known: the client id and the will come from it. */
  readonly transport: (profile: ProfileSnapshot) => Layer.Layer<Transport, E>
  readonly options?: ChatServiceOptions
  /** Where a new profile checks that its drawn id is free; without it the first id drawn is kept. */
  readonly directory?: Layer.Layer<UserDirectory, unknown>
  /** Keep a snapshot of the state beside the log (domain/snapshot/snapshot-writer.ts); off without it. */
  readonly snapshots?: SnapshotOptions
}

export const chatServiceLayer = <E = TransportError>(layers: ChatLayers<E>) => {
  const systemPorts = Layer.mergeAll(layers.log, layers.clock, layers.ids, layers.crypto, layers.identities)
  const base = layers.directory === undefined ? systemPorts : Layer.merge(systemPorts, layers.directory)
  const withProfile = Profile.layer.pipe(Layer.provideMerge(base))
  const transport = Layer.unwrap(Effect.map(Profile, layers.transport))
  const withTransport = transport.pipe(Layer.provideMerge(withProfile))
  const service = ChatService.layer(layers.options ?? defaultChatServiceOptions).pipe(Layer.provideMerge(withTransport))
  return layers.snapshots === undefined ? service : snapshotWriterLayer(layers.snapshots).pipe(Layer.provideMerge(service))
}

/** Starts a real ChatService (with whatever log and transport) in its own scope, for tests. */
import { Context, Effect, Exit, Layer, Scope, Stream } from "effect"
import type { EventLog, EventLogError } from "../../domain/ports/event-log.port.ts"
import type { Transport } from "../../domain/ports/transport.port.ts"
import { ChatService, type ChatNotice, type ChatServiceOptions } from "../../domain/service/chat-service.ts"
import { chatServiceLayer } from "../../domain/service/compose.ts"
import { Profile, type ProfileSnapshot } from "../../domain/service/profile.ts"
import type { SnapshotOptions } from "../../domain/snapshot/snapshot-writer.ts"
import { SystemClock, SystemIds } from "../../adapters/system/system.ts"
import type { IdSource } from "../../domain/ports/id-source.port.ts"
import type { Crypto } from "../../domain/ports/crypto.port.ts"
import { IdentityStore } from "../../domain/ports/identity-store.port.ts"
import { NodeCrypto } from "../../adapters/system/node-crypto.ts"
import { MqttTransport } from "../../adapters/mqtt/mqtt-transport.ts"
import { FileEventLog } from "../../adapters/storage/file-event-log.ts"
import { FileIdentityStore } from "../../adapters/storage/identity-file.ts"
import type { UserDirectory } from "../../domain/ports/user-directory.port.ts"

export interface RunningUser {
  readonly service: ChatService["Service"]
  readonly notices: ChatNotice[]
  /** How the profile was opened (its state restored from a snapshot or the whole log). */
  readonly profile: ProfileSnapshot
  run<A, E>(effect: Effect.Effect<A, E>): Promise<A>
  /** Clean stop: offline announcement, scope closed. */
  stop(): Promise<void>
}

export async function startUser(options: {
  readonly log: Layer.Layer<EventLog, EventLogError>
  readonly transport: (profile: ProfileSnapshot) => Layer.Layer<Transport, unknown>
  readonly serviceOptions?: ChatServiceOptions
  readonly ids?: Layer.Layer<IdSource>
  /** Where the identity is kept: in memory unless given (pass FileIdentityStore beside a file log to restart it). */
  readonly identities?: Layer.Layer<IdentityStore>
  readonly crypto?: Layer.Layer<Crypto>
  readonly directory?: Layer.Layer<UserDirectory, unknown>
  /** Called with each notice as it comes (the service's counters can be read at that moment). */
  readonly watch?: (notice: ChatNotice, service: ChatService["Service"]) => void
  /** Keep a snapshot of the state beside the log, as the chat does (off unless given). */
  readonly snapshots?: SnapshotOptions
}): Promise<RunningUser> {
  const scope = await Effect.runPromise(Scope.make())
  const layer = chatServiceLayer({
    log: options.log,
    clock: SystemClock.layer,
    ids: options.ids ?? SystemIds.layer,
    crypto: options.crypto ?? NodeCrypto.layer,
    identities: options.identities ?? IdentityStore.layerMemory(),
    ...(options.directory ? { directory: options.directory } : {}),
    transport: options.transport,
    ...(options.serviceOptions ? { options: options.serviceOptions } : {}),
    ...(options.snapshots ? { snapshots: options.snapshots } : {}),
  })
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const service = Context.get(context, ChatService)
  const profile = Context.get(context, Profile)
  const notices: ChatNotice[] = []
  Effect.runFork(service.notices.pipe(Stream.runForEach((n) => Effect.sync(() => {
    options.watch?.(n, service)
    if (notices.length < 100_000) notices.push(n)
  }))).pipe(Effect.forkIn(scope)))
  let stopped = false
  return {
    service,
    notices,
    profile,
    run: (effect) => Effect.runPromise(effect),
    stop: async () => {
      if (stopped) return
      stopped = true
      await Effect.runPromise(service.shutdown())
      await Effect.runPromise(Scope.close(scope, Exit.void))
    },
  }
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. Bounded. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (let attempt = 0; attempt < 100_000; attempt++) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`gave up waiting for: ${what}`)
}

/** A profile on disk, as the chat keeps one: the file log and the identity file beside it. */
export const fileProfile = (dir: string) => ({ log: FileEventLog.layer({ dir }), identities: FileIdentityStore.layer({ dir }) })

/** The transport the chat uses, on the broker at `url`: client id and Last Will from the profile. */
export const mqttTransportTo = (url: string) => (profile: ProfileSnapshot) => MqttTransport.layer({ url, clientId: profile.me, will: profile.willFor })

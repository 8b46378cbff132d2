/**
 * The transport port: publish and subscribe in the protocol's terms. The MQTT.js adapter
 * (adapters/mqtt) and the simulator's in-memory network both implement it; both run
 * tests/contracts/transport.contract.ts.
 */
import { Context, Schema } from "effect"
import type { Effect, Stream } from "effect"
import type { Topic } from "../ids.ts"

export class TransportError extends Schema.TaggedError<TransportError>()("TransportError", {
  reason: Schema.Literals(["not-connected", "rejected", "closed", "io"]),
  message: Schema.String,
}) {}

/** Raw bytes as they arrived: the application decodes (and caps) them, the transport never trusts them. */
export interface Incoming {
  readonly topic: string
  readonly payload: Uint8Array
  readonly retained: boolean
}

export type ConnectionState =
  | { readonly _tag: "connecting" }
  /** `connection` counts successful connects of this transport: 1, 2, 3… (presence orders by it). */
  | { readonly _tag: "connected"; readonly connection: number }
  | { readonly _tag: "reconnecting"; readonly attempt: number; readonly error: string }
  | { readonly _tag: "closed" }

export class Transport extends Context.Service<Transport, {
  /** Resolves when the broker acknowledged (QoS 1). Queued while reconnecting. */
  publish(topic: Topic, payload: Uint8Array, options: { readonly retain: boolean }): Effect.Effect<void, TransportError>
  /** QoS 1 subscriptions, kept by the broker across reconnects (persistent session). */
  subscribe(topics: ReadonlyArray<Topic>): Effect.Effect<void, TransportError>
  unsubscribe(topics: ReadonlyArray<Topic>): Effect.Effect<void, TransportError>
  /** Every message received, in arrival order. One consumer. */
  readonly incoming: Stream.Stream<Incoming>
  readonly connectionState: Effect.Effect<ConnectionState>
  readonly connectionChanges: Stream.Stream<ConnectionState>
  /**
   * Clean close: publishes `lastWords` first (the offline announcement; a clean disconnect sends
   * no Last Will), then disconnects.
   */
  close(lastWords: ReadonlyArray<{ readonly topic: Topic; readonly payload: Uint8Array; readonly retain: boolean }>): Effect.Effect<void>
}>()("mqtt-chat/domain/ports/Transport") {}

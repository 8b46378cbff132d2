/**
 * The Transport PORT's contract, in the protocol's terms, for every implementation: the MQTT.js
 * adapter (on a real broker) and the in-memory broker the simulator and the fast tests use. What
 * only MQTT can show (sockets, reconnects, child processes) is in transport.contract.ts.
 */
import { Context, Effect, Exit, Layer, Scope, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Topic } from "../../domain/ids.ts"
import { Transport, type Incoming } from "../../domain/ports/transport.port.ts"

export interface TransportWorld {
  /** A connected transport for `clientId` (persistent session), with an optional Last Will. */
  connect(clientId: string, will?: { readonly topic: Topic; readonly payload: Uint8Array }): Layer.Layer<Transport, unknown>
  /** The client vanishes without a clean disconnect (the broker must publish its will). */
  crash(clientId: string): Promise<void>
  dispose(): Promise<void>
}

const text = (payload: Uint8Array) => new TextDecoder().decode(payload)
const bytes = (s: string) => new TextEncoder().encode(s)
let serial = 0
const unique = (label: string) => `${label}${Date.now() % 100000}x${++serial}`

interface Connected {
  readonly transport: Transport["Service"]
  readonly inbox: Incoming[]
  close(): Promise<void>
}

const open = async (world: TransportWorld, clientId: string, will?: { readonly topic: Topic; readonly payload: Uint8Array }): Promise<Connected> => {
  const scope = await Effect.runPromise(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(world.connect(clientId, will), scope))
  const transport = Context.get(context, Transport)
  const inbox: Incoming[] = []
  Effect.runFork(transport.incoming.pipe(Stream.runForEach((m) => Effect.sync(() => { if (inbox.length < 10_000) inbox.push(m) }))).pipe(Effect.forkIn(scope)))
  return { transport, inbox, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const eventually = async (what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (let i = 0; i < 10_000; i++) {
    if (check()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export function transportPortContract(name: string, makeWorld: () => Promise<TransportWorld>): void {
  describe(`Transport port contract: ${name}`, () => {
    let world: TransportWorld
    beforeAll(async () => {
      world = await makeWorld()
    })
    afterAll(async () => {
      await world?.dispose()
    })
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

    it("delivers a publish to a subscriber, bytes intact, and not after unsubscribing", async () => {
      const topic = unique("port_") as Topic
      const a = await open(world, unique("user-1"))
      const b = await open(world, unique("user-2"))
      await run(b.transport.subscribe([topic]))
      await run(a.transport.publish(topic, bytes("héllo"), { retain: false }))
      await eventually("the message", () => b.inbox.some((m) => m.topic === topic))
      expect(text(b.inbox.find((m) => m.topic === topic)!.payload)).toBe("héllo")
      await run(b.transport.unsubscribe([topic]))
      await run(a.transport.publish(topic, bytes("after"), { retain: false }))
      await run(a.transport.publish(`${topic}_marker` as Topic, bytes("x"), { retain: false }))
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(b.inbox.filter((m) => m.topic === topic).map((m) => text(m.payload))).toEqual(["héllo"])
      await a.close()
      await b.close()
    })

    it("keeps the last retained message for a later subscriber", async () => {
      const topic = unique("retained_") as Topic
      const a = await open(world, unique("user-3"))
      await run(a.transport.publish(topic, bytes("first"), { retain: true }))
      await run(a.transport.publish(topic, bytes("last"), { retain: true }))
      const late = await open(world, unique("user-4"))
      await run(late.transport.subscribe([topic]))
      await eventually("the retained message", () => late.inbox.some((m) => m.topic === topic))
      expect(late.inbox.filter((m) => m.topic === topic).map((m) => [text(m.payload), m.retained])).toEqual([["last", true]])
      await a.close()
      await late.close()
    })

    it("keeps messages for a subscriber that is away and delivers them when it comes back", async () => {
      const topic = unique("away_") as Topic
      const id = unique("user-5")
      const away = await open(world, id)
      await run(away.transport.subscribe([topic]))
      await away.close()
      const sender = await open(world, unique("user-6"))
      for (const word of ["one", "two", "three"]) await run(sender.transport.publish(topic, bytes(word), { retain: false }))
      const back = await open(world, id)
      await eventually("the three messages", () => new Set(back.inbox.filter((m) => m.topic === topic).map((m) => text(m.payload))).size === 3)
      await sender.close()
      await back.close()
    })

    it("publishes the will when a client vanishes, and only the last words when it closes", async () => {
      const willTopic = unique("will_") as Topic
      const watcher = await open(world, unique("user-7"))
      await run(watcher.transport.subscribe([willTopic]))
      const doomedId = unique("user-8")
      const doomed = await open(world, doomedId, { topic: willTopic, payload: bytes("gone") })
      await world.crash(doomedId)
      await eventually("the will", () => watcher.inbox.some((m) => m.topic === willTopic && text(m.payload) === "gone"))
      await doomed.close()

      const politeId = unique("user-9")
      const polite = await open(world, politeId, { topic: willTopic, payload: bytes("never") })
      await run(polite.transport.close([{ topic: willTopic, payload: bytes("bye"), retain: false }]))
      await eventually("the last words", () => watcher.inbox.some((m) => text(m.payload) === "bye"))
      await polite.close()
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(watcher.inbox.some((m) => text(m.payload) === "never")).toBe(false)
      await watcher.close()
    })

    it("reports connected, and refuses to publish after close", async () => {
      const c = await open(world, unique("user-10"))
      expect((await run(c.transport.connectionState))._tag).toBe("connected")
      await run(c.transport.close([]))
      const refused = await Effect.runPromiseExit(c.transport.publish("after_close" as Topic, bytes("x"), { retain: false }))
      expect(Exit.isFailure(refused)).toBe(true)
      await c.close()
    })
  })
}

/**
 * A broker slow to answer CONNECT must never crash the process (issue 10: with 50 connects at a
 * time on a loaded Mosquitto, some CONNACKs came after the client's deadline, and the process died
 * inside MQTT.js reading `sessionPresent` of undefined). Here a hostile broker answers late (before
 * and after the deadline), twice, with and without a session, and drops some sockets right after,
 * while 60 transports are built at once and torn down at staggered moments, some of them in the
 * middle of a reconnect whose CONNACK is in flight. Every build must end as a connected transport
 * or a TransportError, and nothing may escape as an uncaught exception.
 */
import { Cause, Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { MqttTransport } from "../../adapters/mqtt/mqtt-transport.ts"
import { TransportError } from "../../domain/ports/transport.port.ts"
import type { Topic } from "../../domain/ids.ts"
import { startSlowBroker, type ConnackPlan, type SlowBroker } from "../support/slow-broker.ts"

const CLIENTS = 60
const DEADLINE_MS = 300
/** Delays from 0 to 2.7 × the deadline: about half the CONNACKs come after it. */
const DELAY_STEPS_MS = [0, 60, 200, 400, 560, 800] as const

const planFor = (connection: number): ConnackPlan => ({
  delayMs: connection % 17 === 0 ? null : DELAY_STEPS_MS[(connection * 7) % DELAY_STEPS_MS.length]!,
  twice: connection % 4 === 0,
  sessionPresent: connection % 2 === 0,
  dropAfterMs: connection % 5 === 0 ? 10 : null,
})

let broker: SlowBroker
const uncaught: unknown[] = []
const onUncaught = (error: unknown) => uncaught.push(error)

beforeAll(async () => {
  process.on("uncaughtException", onUncaught)
  broker = await startSlowBroker(planFor)
})
afterAll(async () => {
  process.off("uncaughtException", onUncaught)
  await broker?.close()
})

const oneClient = (index: number) =>
  Effect.scoped(Effect.gen(function* () {
    const transport = yield* MqttTransport.make({
      url: `mqtt://127.0.0.1:${broker.port}`,
      clientId: `user-${20000 + index}`,
      connectTimeoutMs: DEADLINE_MS,
      reconnectMinMs: 5,
      reconnectMaxMs: 20,
      closeTimeoutMs: 50,
    })
    // The broker never answers SUBSCRIBE: the request is in flight when the scope closes.
    yield* transport.subscribe(["user-1_control" as Topic]).pipe(Effect.timeout(30), Effect.ignore)
    // Staggered teardown: some close while their socket was dropped and a reconnect waits for its CONNACK.
    yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, (index % 4) * 60)))
    return transport.stats().connects
  }))

describe("a broker that answers CONNECT late, twice, or drops right after", () => {
  it("never crashes the process: every build connects or fails with a TransportError", async () => {
    const exits = await Promise.all(Array.from({ length: CLIENTS }, (_, index) => Effect.runPromiseExit(oneClient(index))))
    await broker.settled()
    // Let anything the late packets scheduled run before looking.
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setTimeout(resolve, 20))

    const connected = exits.filter(Exit.isSuccess)
    const failed = exits.filter(Exit.isFailure)
    for (const exit of failed) {
      const error = Cause.squash(exit.cause)
      expect(error, Cause.pretty(exit.cause)).toBeInstanceOf(TransportError)
    }
    // The interesting cases happened: both outcomes, reconnects, and more connections than clients.
    expect(connected.length).toBeGreaterThan(5)
    expect(failed.length).toBeGreaterThan(5)
    expect(broker.connections()).toBeGreaterThan(CLIENTS)
    expect(uncaught).toEqual([])
  })
})

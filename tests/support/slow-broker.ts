/**
 * A hostile "broker" on 127.0.0.1 that speaks just enough MQTT 3.1.1 to hurt a client's connect
 * path: it answers CONNECT late (after the client's own deadline), twice, with or without
 * session-present, and may drop the socket right after. A plan per connection decides which,
 * so a run is reproducible. Only CONNACK and PINGRESP are ever written; everything else is read
 * and ignored.
 */
import * as net from "node:net"

export interface ConnackPlan {
  /** Milliseconds between the CONNECT and the CONNACK; `null` never answers. */
  readonly delayMs: number | null
  /** Write the CONNACK twice (a protocol error a client must survive). */
  readonly twice: boolean
  readonly sessionPresent: boolean
  /** Drop the socket this long after the CONNACK; `null` keeps it. */
  readonly dropAfterMs: number | null
}

const CONNACK = (sessionPresent: boolean) => Buffer.from([0x20, 0x02, sessionPresent ? 1 : 0, 0x00])
const PINGREQ = 0xc0
const PINGRESP = Buffer.from([0xd0, 0x00])

export interface SlowBroker {
  readonly port: number
  /** Connections accepted so far. */
  readonly connections: () => number
  /** Resolves once every CONNACK planned so far has been written or abandoned (its socket gone). */
  readonly settled: () => Promise<void>
  readonly close: () => Promise<void>
}

export const startSlowBroker = (planFor: (connection: number) => ConnackPlan): Promise<SlowBroker> =>
  new Promise((resolve, reject) => {
    const sockets = new Set<net.Socket>()
    const pending = new Set<Promise<void>>()
    let accepted = 0
    const server = net.createServer((socket) => {
      accepted += 1
      const plan = planFor(accepted)
      sockets.add(socket)
      socket.on("error", () => {})
      socket.on("close", () => sockets.delete(socket))
      let sawConnect = false
      socket.on("data", (chunk) => {
        if (sawConnect) {
          if (chunk[0] === PINGREQ && !socket.destroyed) socket.write(PINGRESP)
          return
        }
        sawConnect = true
        if (plan.delayMs === null) return
        const delayMs = plan.delayMs
        const answered = new Promise<void>((done) => {
          const timer = setTimeout(() => {
            if (!socket.destroyed) {
              socket.write(CONNACK(plan.sessionPresent))
              if (plan.twice) socket.write(CONNACK(plan.sessionPresent))
              if (plan.dropAfterMs !== null) setTimeout(() => socket.destroy(), plan.dropAfterMs)
            }
            done()
          }, delayMs)
          socket.once("close", () => {
            clearTimeout(timer)
            done()
          })
        })
        pending.add(answered)
        void answered.then(() => pending.delete(answered))
      })
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      if (address === null || typeof address === "string") return reject(new Error("no TCP address"))
      resolve({
        port: address.port,
        connections: () => accepted,
        settled: async () => {
          // Bounded: each round waits for the answers planned so far; new ones come only from reconnects.
          for (let round = 0; round < 100 && pending.size > 0; round++) await Promise.all([...pending])
        },
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          }),
      })
    })
  })

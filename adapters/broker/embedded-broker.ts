/**
 * An MQTT 3.1.1 broker inside the Node process (aedes), for when no Mosquitto is running.
 *
 * With `persistenceDir`, sessions, subscriptions, offline QoS 1 queues, retained messages and wills
 * live in a LevelDB (classic-level) there and survive a restart of this broker — also a crash of
 * the process, as every change is written before aedes goes on (not fsynced: a crash of the
 * machine may lose the last writes). Without it everything is in memory and a restart loses it all.
 *
 * Two repairs make aedes 1.2 with this store lose nothing (tests/contracts prove it):
 * - aedes drops a QoS 1 message as a "duplicate" when one with a higher counter from the same
 *   broker reached the client first. Its in-memory store answers in call order; LevelDB does
 *   not, so concurrent publishes overtook each other and 1–10 % of them vanished, even from the
 *   offline queue. We switch that check off (`preConnect`): QoS 1 is at-least-once anyway and
 *   the application drops repeats by message id.
 * - the store's answers are handed back in call order (`inCallOrder`), so messages of one kind
 *   from one publisher keep their order, as they do on Mosquitto.
 *
 * With `passwordFile` (Mosquitto's format, adapters/broker/password-file.ts) it checks who connects
 * as mosquitto-secure.conf does (docs/decisions/009): a username and password from the file, a
 * client id equal to the username (refused otherwise: Mosquitto replaces it instead), and the
 * access rules of `lockedDownMay` on every publish, Will and delivery. The file is read at start.
 *
 * Known limits, unlike Mosquitto's `max_queued_messages`: aedes has no cap on a client's offline
 * queue, so it is bounded only by the disk. Bounded here: packets a client sends before its
 * CONNECT finished (`queueLimit`), inbound QoS 2 in flight, deliveries in flight (`concurrency`),
 * and a frozen subscriber is disconnected after `drainTimeout` instead of stalling everyone.
 */
import { mkdir, readFile, stat } from "node:fs/promises"
import * as net from "node:net"
import { Aedes } from "aedes"
import type { AedesOptions, AuthenticateError } from "aedes"
import { anonymousMayPublish, lockedDownMay } from "./access-rules.ts"
import { DECOY_HASH, MAX_PASSWORD_FILE_BYTES, parsePasswordFile, verifyPassword } from "./password-file.ts"
import levelPersistence from "aedes-persistence-level"
import { ClassicLevel } from "classic-level"

export interface EmbeddedBrokerOptions {
  /** 0 picks a free port; the handle tells which. */
  readonly port: number
  /** Default 127.0.0.1: without `passwordFile` the broker accepts anonymous clients, so never on a public interface by default. */
  readonly host?: string
  /** Mosquitto's password file: when given, only its users get in, under their username as client id, with the access rules. */
  readonly passwordFile?: string
  /** Directory of the LevelDB store; absent = in memory, lost on close. One broker per directory. */
  readonly persistenceDir?: string
  readonly onLog?: (line: string) => void
}

export interface EmbeddedBroker {
  readonly url: string
  readonly port: number
  /** Clients whose CONNECT was accepted and who are still connected. */
  connectedClients(): number
  /**
   * Stops accepting, disconnects every client, closes the store. Like Mosquitto 2.0 on SIGTERM,
   * this publishes the will of every connected client: after a broker restart the clients must
   * announce themselves again.
   */
  close(): Promise<void>
}

const tuning = {
  /** Deliveries in flight in the broker; a frozen subscriber holds slots until `drainTimeout`. */
  concurrency: 1_000,
  drainTimeout: 30_000,
  /** Packets a client may send before its CONNECT is processed. */
  queueLimit: 100,
  maxInflightInbound: 1_000,
  /** User ids are `user-` + up to 12 digits: 17 characters. */
  maxClientsIdLength: 23,
  /** The longest topic of the protocol has three levels. */
  maxTopicLevels: 8,
  connectTimeout: 10_000,
} satisfies AedesOptions

/** The users of a password file, or a clear error: a broker that cannot read its users must not start open. */
const loadUsers = async (file: string): Promise<ReadonlyMap<string, string>> => {
  const size = (await stat(file)).size
  if (size > MAX_PASSWORD_FILE_BYTES) throw new Error(`password file ${file} is ${size} bytes, more than ${MAX_PASSWORD_FILE_BYTES}`)
  const parsed = parsePasswordFile(await readFile(file, "utf8"))
  if (parsed.problems.length > 0) throw new Error(`password file ${file}: ${parsed.problems.slice(0, 3).join("; ")}${parsed.problems.length > 3 ? ` (and ${parsed.problems.length - 3} more)` : ""}`)
  return parsed.entries
}

const refusal = (returnCode: 4 | 5, message: string): AuthenticateError => Object.assign(new Error(message), { returnCode })

/** The hooks that check who connects and what they may do: Mosquitto's secure configuration, in code. */
const lockedDown = (users: ReadonlyMap<string, string>, log: (line: string) => void) => ({
  authenticate: (client, username, password, done) => {
    const hash = username === undefined ? undefined : users.get(username)
    // Verified against a decoy when the user is unknown: the answer takes as long either way.
    verifyPassword(password ?? Buffer.alloc(0), hash ?? DECOY_HASH).then(
      (matches) => {
        if (!matches || hash === undefined || password === undefined) {
          log(`[aedes] refused ${JSON.stringify(username ?? "(no username)").slice(0, 40)}: bad username or password`)
          return done(refusal(4, "bad user name or password"), false)
        }
        if (client.id !== username) {
          log(`[aedes] refused ${username}: client id ${JSON.stringify(client.id).slice(0, 40)} is not its username`)
          return done(refusal(5, "the client id must be the username"), false)
        }
        done(null, true)
      },
      (error: unknown) => done(refusal(5, `cannot check the password: ${error instanceof Error ? error.message : String(error)}`), false),
    )
  },
  authorizePublish: (client, packet, callback) => {
    callback(lockedDownMay(client?.id ?? "", "write", packet.topic) ? null : new Error(`${client?.id} may not publish on ${packet.topic}`))
  },
  // Every subscription is granted, as on Mosquitto; what it may receive is decided per message.
  authorizeForward: (client, packet) => (lockedDownMay(client.id, "read", packet.topic) ? packet : null),
}) satisfies Pick<AedesOptions, "authenticate" | "authorizePublish" | "authorizeForward">

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const host = options.host ?? "127.0.0.1"
  const log = options.onLog ?? (() => {})
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) throw new Error(`invalid port ${options.port}`)

  // Before anything is opened: a broker that cannot read its users does not start.
  const users = options.passwordFile === undefined ? undefined : await loadUsers(options.passwordFile)
  let db: ClassicLevel<string, Buffer> | undefined
  if (options.persistenceDir !== undefined) {
    await mkdir(options.persistenceDir, { recursive: true })
    db = new ClassicLevel<string, Buffer>(options.persistenceDir, { valueEncoding: "buffer" })
    await db.open()
  }
  let broker: Aedes
  try {
    broker = await Aedes.createBroker({
      ...tuning,
      preConnect: (client, _packet, callback) => {
        acceptDuplicates(client)
        callback(null, true)
      },
      // The same rule as mosquitto.acl: presence (and the Last Will) only under your own client id.
      authorizePublish: (client, packet, callback) => {
        callback(anonymousMayPublish(client?.id ?? "", packet.topic) ? null : new Error(`${client?.id} may not publish on ${packet.topic}`))
      },
      ...(users === undefined ? {} : lockedDown(users, log)),
      ...(db === undefined ? {} : { persistence: inCallOrder(levelPersistence(db)) }),
    })
  } catch (error) {
    await db?.close()
    throw error
  }
  broker.on("clientError", (client, error) => log(`[aedes] client ${client.id}: ${error.message}`))
  broker.on("connectionError", (_client, error) => log(`[aedes] connection: ${error.message}`))
  broker.on("client", (client) => log(`[aedes] client ${client.id} connected`))
  broker.on("clientDisconnect", (client) => log(`[aedes] client ${client.id} disconnected`))

  const sockets = new Set<net.Socket>()
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.setNoDelay(true)
    sockets.add(socket)
    socket.once("close", () => sockets.delete(socket))
    broker.handle(socket)
  })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(options.port, host, () => {
        server.off("error", reject)
        resolve()
      })
    })
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(() => resolve()))
    await db?.close()
    throw error
  }
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("embedded broker: server has no TCP address")
  const port = address.port
  const url = `mqtt://${host.includes(":") ? `[${host}]` : host}:${port}`
  log(`[aedes] listening on ${url}${db === undefined ? " (in memory)" : ` (store ${options.persistenceDir})`}${users === undefined ? ", anonymous" : `, ${users.size} users from ${options.passwordFile}`}`)

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      await new Promise<void>((resolve) => broker.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      await stopped
      await db?.close()
      log(`[aedes] closed ${url}`)
    })()
    return closing
  }
  return { url, port, connectedClients: () => broker.connectedClients, close }
}

/**
 * aedes' `dedupe` keeps, per client, the highest broker counter delivered and drops anything
 * lower: a loss whenever deliveries complete out of order. A table that never remembers turns
 * the check off.
 */
function acceptDuplicates(client: object): void {
  const forgetful = new Proxy(Object.create(null) as Record<string, number>, {
    get: () => 0,
    set: () => true,
    deleteProperty: () => true,
  })
  ;(client as { duplicates: Record<string, number> }).duplicates = forgetful
}

/** The persistence methods aedes awaits on the way from a PUBLISH to its deliveries. */
const ORDERED_METHODS = [
  "storeRetained",
  "addSubscriptions",
  "removeSubscriptions",
  "subscriptionsByClient",
  "subscriptionsByTopic",
  "cleanSubscriptions",
  "countOffline",
  "outgoingEnqueue",
  "outgoingEnqueueCombi",
  "outgoingUpdate",
  "outgoingClearMessageId",
  "incomingStorePacket",
  "incomingGetPacket",
  "incomingDelPacket",
  "putWill",
  "getWill",
  "delWill",
] as const

/**
 * Every operation still starts at once, but its promise settles only after those of all earlier
 * calls: aedes then continues its pipelines in the order it started them.
 */
function inCallOrder<P extends object>(persistence: P): P {
  let previous: Promise<unknown> = Promise.resolve()
  const methods = persistence as unknown as Record<string, unknown>
  for (const name of ORDERED_METHODS) {
    const original = methods[name]
    if (typeof original !== "function") throw new Error(`aedes persistence lacks ${name}`)
    methods[name] = (...args: Array<unknown>): unknown => {
      const result: unknown = original.apply(persistence, args)
      if (!(result instanceof Promise)) return result
      // Mark it handled now: it may reject (e.g. the store closed) before `previous` lets `settled`
      // observe it, and Node would report an unhandled rejection. `settled` still carries the error.
      result.catch(() => undefined)
      const settled = previous.then(() => result)
      previous = settled.catch(() => undefined)
      return settled
    }
  }
  return persistence
}

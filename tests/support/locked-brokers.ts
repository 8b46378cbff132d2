/**
 * Brokers that check who connects, for tests: users with random passwords in a password file
 * hashed by our own code (so a Mosquitto that accepts them proves the format), and the access
 * rules as shipped — Mosquitto runs `adapters/broker/mosquitto-secure.conf`'s directives with the
 * ACL `broker:add-user` generates; aedes runs `lockedDownMay`.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises"
import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { mosquittoAcl } from "../../adapters/broker/access-rules.ts"
import { startEmbeddedBroker, type EmbeddedBroker } from "../../adapters/broker/embedded-broker.ts"
import { hashPassword, newPassword, withEntry } from "../../adapters/broker/password-file.ts"
import type { BrokerHandle, BrokerName } from "./brokers.ts"
import { freePort } from "./free-port.ts"
import { mosquittoAvailable, startMosquitto } from "./mosquitto.ts"
import { opensslAvailable, type PrivateCa } from "./private-ca.ts"

export interface LockedUser {
  readonly username: string
  readonly password: string
}

export interface LockedBrokerHandle extends BrokerHandle {
  readonly users: ReadonlyMap<string, LockedUser>
  /** `mqtts://127.0.0.1:PORT` when started with a CA (Mosquitto only). */
  readonly tlsUrl: string | undefined
  user(name: string): LockedUser
}

export interface LockedStartOptions {
  readonly users: ReadonlyArray<string>
  readonly tls?: PrivateCa
}

export interface LockedBrokerKind {
  readonly name: BrokerName
  readonly skip: boolean
  /** Whether its TLS tests run: the broker has a TLS listener and openssl is there (or CI, where its absence fails). */
  readonly tls: boolean
  start(options: LockedStartOptions): Promise<LockedBrokerHandle>
}

export const SHIPPED_SECURE_CONF = join(import.meta.dirname, "..", "..", "adapters", "broker", "mosquitto-secure.conf")

const underCi = (): boolean => process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"

/** The password file and the generated ACL for these users, in `dir`. */
export async function writeUserFiles(dir: string, usernames: ReadonlyArray<string>): Promise<{ readonly users: ReadonlyMap<string, LockedUser>; readonly passwordFile: string; readonly aclFile: string }> {
  const users = new Map<string, LockedUser>()
  let text = ""
  for (const username of usernames) {
    const user = { username, password: newPassword() }
    users.set(username, user)
    text = withEntry(text, username, await hashPassword(user.password))
  }
  const passwordFile = join(dir, "passwd")
  const aclFile = join(dir, "acl")
  await writeFile(passwordFile, text, { mode: 0o600 })
  await writeFile(aclFile, mosquittoAcl(usernames).text, { mode: 0o600 })
  return { users, passwordFile, aclFile }
}

/** Replaces `from` (a regular expression matching whole lines) once; throws if the shipped file has no such line. */
const substitute = (text: string, from: RegExp, to: string): string => {
  if (!from.test(text)) throw new Error(`mosquitto-secure.conf changed shape: no line matches ${from}`)
  return text.replace(from, to)
}

/**
 * The shipped secure configuration, line for line, with this test's ports (on 127.0.0.1) and
 * paths; with `tls`, its TLS block uncommented. Any line the substitution expects and does not
 * find fails the test: the file under test is the one that ships.
 */
export async function lockedMosquittoConfig(settings: {
  readonly port: number
  readonly persistenceDir: string
  readonly passwordFile: string
  readonly aclFile: string
  readonly tls?: { readonly port: number; readonly ca: PrivateCa }
}): Promise<string> {
  let text = await readFile(SHIPPED_SECURE_CONF, "utf8")
  text = substitute(text, /^listener 1883 127\.0\.0\.1$/m, `listener ${settings.port} 127.0.0.1`)
  text = substitute(text, /^password_file .*$/m, `password_file ${settings.passwordFile}`)
  text = substitute(text, /^acl_file .*$/m, `acl_file ${settings.aclFile}`)
  text = substitute(text, /^persistence_location .*$/m, `persistence_location ${settings.persistenceDir.endsWith("/") ? settings.persistenceDir : `${settings.persistenceDir}/`}`)
  // Tests restart brokers: a short autosave limits what a SIGKILL can lose.
  text = substitute(text, /^autosave_interval .*$/m, "autosave_interval 1")
  if (settings.tls !== undefined) {
    const { port, ca } = settings.tls
    text = substitute(text, /^#listener 8883$/m, `listener ${port} 127.0.0.1`)
    text = substitute(text, /^#use_username_as_clientid true$/m, "use_username_as_clientid true")
    text = substitute(text, /^#certfile .*$/m, `certfile ${ca.certFile}`)
    text = substitute(text, /^#keyfile .*$/m, `keyfile ${ca.keyFile}`)
    text = substitute(text, /^#cafile .*$/m, `cafile ${ca.caFile}`)
    text = substitute(text, /^#tls_version (.*)$/m, "tls_version $1")
  }
  // As root Mosquitto switches to the `mosquitto` user, which cannot read our temp directory.
  if (process.getuid?.() === 0) text += "user root\n"
  return text
}

const handleFor = (broker: BrokerHandle, users: ReadonlyMap<string, LockedUser>, tlsUrl: string | undefined): LockedBrokerHandle => ({
  url: broker.url,
  port: broker.port,
  stop: (signal) => broker.stop(signal),
  restart: () => broker.restart(),
  dispose: () => broker.dispose(),
  users,
  tlsUrl,
  user: (name) => {
    const user = users.get(name)
    if (user === undefined) throw new Error(`no test user ${name}`)
    return user
  },
})

export async function startLockedMosquitto(options: LockedStartOptions): Promise<LockedBrokerHandle> {
  let users: ReadonlyMap<string, LockedUser> = new Map()
  const tlsPort = options.tls === undefined ? undefined : await freePort()
  const broker = await startMosquitto({
    config: async ({ port, persistenceDir, workDir }) => {
      const files = await writeUserFiles(workDir, options.users)
      users = files.users
      return lockedMosquittoConfig({
        port,
        persistenceDir,
        passwordFile: files.passwordFile,
        aclFile: files.aclFile,
        ...(options.tls === undefined || tlsPort === undefined ? {} : { tls: { port: tlsPort, ca: options.tls } }),
      })
    },
  })
  return handleFor(broker, users, tlsPort === undefined ? undefined : `mqtts://127.0.0.1:${tlsPort}`)
}

export async function startLockedAedes(options: LockedStartOptions): Promise<LockedBrokerHandle> {
  if (options.tls !== undefined) throw new Error("the embedded broker has no TLS listener")
  const dir = await mkdtemp(join(tmpdir(), "mqtt-chat-aedes-locked-"))
  const { users, passwordFile } = await writeUserFiles(dir, options.users)
  const persistenceDir = join(dir, "store")
  const port = await freePort()
  const startIt = () => startEmbeddedBroker({ port, host: "127.0.0.1", persistenceDir, passwordFile })
  let running: EmbeddedBroker | undefined = await startIt()
  const stop = async (): Promise<void> => {
    const broker = running
    running = undefined
    await broker?.close()
  }
  const broker: BrokerHandle = {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop,
    restart: async () => {
      await stop()
      running = await startIt()
    },
    dispose: async () => {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return handleFor(broker, users, undefined)
}

export const lockedMosquittoKind: LockedBrokerKind = {
  name: "mosquitto",
  skip: !mosquittoAvailable() && !underCi(),
  tls: opensslAvailable() || underCi(),
  start: startLockedMosquitto,
}

export const lockedAedesKind: LockedBrokerKind = {
  name: "aedes",
  skip: false,
  tls: false,
  start: startLockedAedes,
}

/**
 * A profile's identity lives in identity.json (0600) beside the log, and each is checked against the
 * other: damage to either is a clear error at start, never a new user and never new keys.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { MemoryBroker, memoryTransportLayer } from "../../adapters/sim-network/memory-broker.ts"
import { IDENTITY_FILE } from "../../adapters/storage/identity-file.ts"
import { fileProfile, startUser, type RunningUser } from "../support/chat-user.ts"

const dirs: string[] = []
const running: RunningUser[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((u) => u.stop().catch(() => undefined)))
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const newDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "mqtt-chat-identity-"))
  dirs.push(dir)
  return dir
}

const start = async (dir: string, broker = new MemoryBroker({ autoFlush: true })) => {
  const user = await startUser({
    ...fileProfile(dir),
    transport: (profile) => memoryTransportLayer(broker, { clientId: profile.me, will: profile.willFor }),
  })
  running.push(user)
  return user
}
const stop = async (user: RunningUser) => {
  running.splice(running.indexOf(user), 1)
  await user.stop()
}
const startFailure = (dir: string) => start(dir).then(() => "started", (error: unknown) => String(error))

describe("the profile's identity", () => {
  it("is created once, owner-only, and the same user with the same keys comes back", async () => {
    const dir = newDir()
    const first = await start(dir)
    const me = first.service.me
    const keys = (await first.run(first.service.whois(me))).keys
    await stop(first)
    expect(statSync(join(dir, IDENTITY_FILE)).mode & 0o777).toBe(0o600)
    const again = await start(dir)
    expect(again.service.me).toBe(me)
    expect((await again.run(again.service.whois(me))).keys).toBe(keys)
  })

  it("one byte flipped in the log's first record is a clear error, never a new user", async () => {
    const dir = newDir()
    const first = await start(dir)
    const me = first.service.me
    await stop(first)
    const logFile = join(dir, "events.log")
    const bytes = readFileSync(logFile)
    const firstLineEnd = bytes.indexOf(0x0a)
    const at = Math.floor(firstLineEnd / 2)
    bytes[at] = bytes[at]! ^ 0x01
    writeFileSync(logFile, bytes)
    const identityBefore = readFileSync(join(dir, IDENTITY_FILE), "utf8")
    const failure = await startFailure(dir)
    expect(failure).toMatch(/first record is damaged or missing/)
    expect(readFileSync(join(dir, IDENTITY_FILE), "utf8")).toBe(identityBefore)
    expect(identityBefore).toContain(me)
  })

  it("garbage before the log's records does not make a new user either", async () => {
    const dir = newDir()
    const first = await start(dir)
    const me = first.service.me
    await stop(first)
    const logFile = join(dir, "events.log")
    writeFileSync(logFile, Buffer.concat([Buffer.from("\u0000garbage that is no record at all\n"), readFileSync(logFile)]))
    // The damaged line is quarantined (the log reports it) and the profile opens as itself.
    expect((await start(dir)).service.me).toBe(me)
  })

  it("a missing identity file is an error once the log names keys; an identity file of another user too", async () => {
    const dir = newDir()
    await stop(await start(dir))
    const identity = readFileSync(join(dir, IDENTITY_FILE))
    unlinkSync(join(dir, IDENTITY_FILE))
    expect(await startFailure(dir)).toMatch(/identity file .*missing/)
    const other = newDir()
    await stop(await start(other))
    writeFileSync(join(dir, IDENTITY_FILE), readFileSync(join(other, IDENTITY_FILE)), { mode: 0o600 })
    expect(await startFailure(dir)).toMatch(/belong to different profiles/)
    unlinkSync(join(dir, IDENTITY_FILE))
    writeFileSync(join(dir, IDENTITY_FILE), identity, { mode: 0o600 })
    expect((await start(dir)).service.me).toMatch(/^user-/)
  })

  it("a damaged identity file is an error that says so, and is left as it was", async () => {
    const dir = newDir()
    await stop(await start(dir))
    writeFileSync(join(dir, IDENTITY_FILE), '{"v":1,"user":"user-1","sign":"short"}', { mode: 0o600 })
    expect(await startFailure(dir)).toMatch(/identity\.json is damaged/)
    expect(readFileSync(join(dir, IDENTITY_FILE), "utf8")).toContain("short")
  })

  it("a log from before signing keeps its user and gets keys once", async () => {
    const dir = newDir()
    const first = await start(dir)
    const me = first.service.me
    await stop(first)
    // Rewrite the log as an older version wrote it: profile.created without keys, no identity file.
    const logFile = join(dir, "events.log")
    const [line, ...rest] = readFileSync(logFile, "utf8").split("\n")
    const json = JSON.parse(line!.slice(9))
    delete json.event.keys
    const body = JSON.stringify(json)
    const { crc32 } = await import("node:zlib")
    writeFileSync(logFile, [`${crc32(body).toString(16).padStart(8, "0")} ${body}`, ...rest].join("\n"))
    unlinkSync(join(dir, IDENTITY_FILE))
    const upgraded = await start(dir)
    expect(upgraded.service.me).toBe(me)
    expect(readFileSync(join(dir, IDENTITY_FILE), "utf8")).toContain(me)
  })
})

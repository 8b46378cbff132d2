/**
 * Profiles from before signing: logs with conversations but no keys anywhere. Both users get keys
 * at their next start, pin each other from their first signed frames, and a message that could not
 * be encrypted at first (no key of the peer yet) goes out as soon as the key is pinned.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { crc32 } from "node:zlib"
import { afterEach, expect, it } from "vitest"
import { MemoryBroker, memoryTransportLayer } from "../../adapters/sim-network/memory-broker.ts"
import { IDENTITY_FILE } from "../../adapters/storage/identity-file.ts"
import { eventually, fileProfile, startUser, type RunningUser } from "../support/chat-user.ts"

const dirs: string[] = []
const running: RunningUser[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((u) => u.stop().catch(() => undefined)))
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const newDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "mqtt-chat-upgrade-"))
  dirs.push(dir)
  return dir
}

/** Rewrites a closed profile as an older version wrote it: no keys in its log, no identity file. */
const asBeforeSigning = (dir: string) => {
  const file = join(dir, "events.log")
  const records = readFileSync(file, "utf8").split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line.slice(9)))
  const kept = records.filter((r) => !String(r.event._tag).startsWith("peer.key.") && r.event._tag !== "group.key.received")
  expect(kept.length).toBeLessThan(records.length) // there were pins to remove
  const lines = kept.map((record, i) => {
    const { keys: _keys, ...event } = record.event
    const body = JSON.stringify({ ...record, seq: i + 1, event })
    return `${crc32(body).toString(16).padStart(8, "0")} ${body}\n`
  })
  writeFileSync(file, lines.join(""))
  unlinkSync(join(dir, IDENTITY_FILE))
}

it("two profiles from before signing pin each other and the message waiting for a key is delivered", async () => {
  let broker = new MemoryBroker({ autoFlush: true })
  const start = async (dir: string) => {
    const user = await startUser({
      ...fileProfile(dir),
      transport: (p) => memoryTransportLayer(broker, { clientId: p.me, will: p.willFor }),
    })
    running.push(user)
    return user
  }
  const stop = async (user: RunningUser) => {
    running.splice(running.indexOf(user), 1)
    await user.stop()
  }
  const [dirA, dirB] = [newDir(), newDir()]
  let [a, b] = [await start(dirA), await start(dirB)]
  const [idA, idB] = [a.service.me, b.service.me]
  await a.run(a.service.startConversation(idB))
  await eventually("B has the request", async () => (await b.run(b.service.requests())).length === 1)
  await b.run(b.service.acceptConversation(idA))
  await eventually("A is active", async () => (await a.run(a.service.listUsers()))[0]?.conversation === "active")
  await stop(a)
  await stop(b)
  asBeforeSigning(dirA)
  asBeforeSigning(dirB)
  // The broker of those days held no signed retained messages either.
  broker = new MemoryBroker({ autoFlush: true })

  a = await start(dirA)
  expect(a.service.me).toBe(idA)
  expect((await a.run(a.service.whois(idB))).keys).toBeNull()
  // Sent before A has B's key: stored (the log is the outbox), not yet publishable.
  await a.run(a.service.send({ _tag: "peer", peer: idB }, "written while B's key was unknown"))
  b = await start(dirB)
  await eventually("A pinned B", async () => (await a.run(a.service.whois(idB))).keys !== null)
  await eventually("B reads the waiting message", async () =>
    (await b.run(b.service.history({ _tag: "peer", peer: idA }, { limit: 10 }))).messages.some((m) => m.text === "written while B's key was unknown"))
  expect((await b.run(b.service.whois(idA))).keys).not.toBeNull()
})

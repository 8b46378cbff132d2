/**
 * A real chat on a real file log restarts from its snapshot: the state it starts with is the fold
 * of the whole log, the history is all there, and a snapshot it cannot trust (damaged, or written
 * by other code) only costs a full replay, never data.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Stream } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { MemoryBroker, memoryTransportLayer } from "../../adapters/sim-network/memory-broker.ts"
import { FileEventLog } from "../../adapters/storage/file-event-log.ts"
import { readSnapshot, SNAPSHOT_FILE, writeSnapshot } from "../../adapters/storage/snapshot-file.ts"
import { replay, stateToJson } from "../../domain/chat/chat-state.ts"
import type { LogRecord } from "../../domain/events.ts"
import type { GroupName, UserId } from "../../domain/ids.ts"
import { EventLog } from "../../domain/ports/event-log.port.ts"
import { eventually, fileProfile, startUser, type RunningUser } from "../support/chat-user.ts"
import { removeDir, tempProfileDir } from "../support/log-fixtures.ts"

const dirs: string[] = []
const running: RunningUser[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((u) => u.stop().catch(() => undefined)))
  for (const dir of dirs.splice(0)) removeDir(dir)
})

const GROUP = "snap-room" as GroupName
/** Often enough that a snapshot is written while the chat runs, not only at the stop. */
const SNAPSHOTS = { everyRecords: 5, checkEveryMs: 20 }

const start = async (broker: MemoryBroker, dir?: string) => {
  const user = await startUser({
    ...(dir === undefined ? { log: FileEventLog.layer({ dir: newDir() }) } : fileProfile(dir)),
    snapshots: SNAPSHOTS,
    transport: (profile) => memoryTransportLayer(broker, { clientId: profile.me, will: profile.willFor }),
  })
  running.push(user)
  return user
}

const newDir = () => {
  const dir = tempProfileDir("snapshot-restart")
  dirs.push(dir)
  return dir
}

const stop = async (user: RunningUser) => {
  running.splice(running.indexOf(user), 1)
  await user.stop()
}

const recordsOf = (dir: string): Promise<ReadonlyArray<LogRecord>> =>
  Effect.runPromise(Effect.provide(EventLog.use((log) => Stream.runCollect(log.replay())), FileEventLog.layer({ dir })))

/** A's profile in `dir` after a conversation with B and a group B joined: then A stops cleanly. */
const talkedAndStopped = async (broker: MemoryBroker) => {
  const dir = newDir()
  const a = await start(broker, dir)
  const b = await start(broker)
  await a.run(a.service.startConversation(b.service.me))
  await eventually("B has the request", async () => (await b.run(b.service.requests())).length === 1)
  await b.run(b.service.acceptConversation(a.service.me))
  await eventually("A is active", async () => (await a.run(a.service.listUsers())).some((u) => u.conversation === "active"))
  for (let n = 1; n <= 12; n++) await a.run(a.service.send({ _tag: "peer", peer: b.service.me }, `from A ${n}`))
  for (let n = 1; n <= 8; n++) await b.run(b.service.send({ _tag: "peer", peer: a.service.me }, `from B ${n}`))
  await a.run(a.service.createGroup(GROUP))
  await eventually("B knows the group", async () => (await b.run(b.service.listGroups())).some((g) => g.name === GROUP))
  await b.run(b.service.joinGroup(GROUP))
  await eventually("A has the join request", async () => (await a.run(a.service.requests())).some((r) => r.kind === "group"))
  await a.run(a.service.acceptJoin(GROUP, b.service.me))
  await eventually("B is in the group", async () => (await b.run(b.service.listGroups())).some((g) => g.name === GROUP && g.me === "member"))
  await eventually("A has B's messages", async () => (await a.run(a.service.history({ _tag: "peer", peer: b.service.me }, { limit: 100 }))).messages.length === 20)
  await eventually("a snapshot was written while A ran", () => fs.existsSync(path.join(dir, SNAPSHOT_FILE)))
  const me = a.service.me
  const peer = b.service.me
  await stop(a)
  return { dir, me, peer }
}

/** Restarts A; returns what it started from and its history with B, then stops it. */
const restarted = async (broker: MemoryBroker, dir: string, peer: UserId) => {
  const a = await start(broker, dir)
  const restored = stateToJson(a.profile.restored)
  const restoredSeq = a.profile.restored.lastSeq
  const history = (await a.run(a.service.history({ _tag: "peer", peer }, { limit: 100 }))).messages.map((m) => m.text)
  const groups = (await a.run(a.service.listGroups())).filter((g) => g.name === GROUP)
  const profile = a.profile
  await stop(a)
  // The fold of the whole log up to the record A started from: what it must have started with.
  const records = await recordsOf(dir)
  const folded = stateToJson(replay(records.filter((r) => r.seq <= restoredSeq)))
  return { profile, restored, folded, history, groups }
}

const expectedHistory = [...Array.from({ length: 12 }, (_, i) => `from A ${i + 1}`), ...Array.from({ length: 8 }, (_, i) => `from B ${i + 1}`)]

describe("restarting from a snapshot", () => {
  it("starts from the snapshot the clean stop wrote, with the state of the whole log", async () => {
    const broker = new MemoryBroker({ autoFlush: true })
    const { dir, peer } = await talkedAndStopped(broker)
    const again = await restarted(broker, dir, peer)
    expect(again.profile.snapshotSeq).not.toBeNull()
    expect(again.profile.restoredFrom).toMatch(/^from the snapshot at record \d+, then \d+ records$/)
    expect(again.restored).toEqual(again.folded)
    expect([...again.history].sort()).toEqual([...expectedHistory].sort())
    expect(again.groups).toHaveLength(1)
    expect(again.groups[0]!.members).toContain(peer)
  }, 30_000)

  it("a damaged snapshot is ignored: the whole log is folded, nothing is lost", async () => {
    const broker = new MemoryBroker({ autoFlush: true })
    const { dir, peer } = await talkedAndStopped(broker)
    const file = path.join(dir, SNAPSHOT_FILE)
    const bytes = fs.readFileSync(file)
    const at = Math.floor(bytes.length / 2)
    bytes[at] = bytes[at]! ^ 0x01
    fs.writeFileSync(file, bytes)
    const again = await restarted(broker, dir, peer)
    expect(again.profile.snapshotSeq).toBeNull()
    expect(again.profile.restoredFrom).toMatch(/snapshot was ignored: the state's checksum does not match/)
    expect(again.restored).toEqual(again.folded)
    expect([...again.history].sort()).toEqual([...expectedHistory].sort())
    expect(again.groups[0]!.members).toContain(peer)
    // The stop after the fallback wrote a good snapshot again.
    expect(readSnapshot(dir)._tag).toBe("read")
  }, 30_000)

  it("a snapshot of other code is ignored by the profile, whose log still opened from it", async () => {
    const broker = new MemoryBroker({ autoFlush: true })
    const { dir, peer } = await talkedAndStopped(broker)
    const read = readSnapshot(dir)
    if (read._tag !== "read") throw new Error(read._tag)
    const state = read.contents.state.replace(/"fingerprint":"[0-9a-f]+"/, "\"fingerprint\":\"00000000000000ff\"")
    expect(state).not.toBe(read.contents.state)
    await writeSnapshot(dir, { ...read.contents, state })
    const again = await restarted(broker, dir, peer)
    expect(again.profile.snapshotSeq).toBeNull()
    expect(again.profile.restoredFrom).toMatch(/was ignored: the state was written by other code/)
    expect(again.restored).toEqual(again.folded)
    expect([...again.history].sort()).toEqual([...expectedHistory].sort())
  }, 30_000)
})

/**
 * The file log: the shared contract, then what only a file has: reopening, the single-writer lock,
 * torn tails, corruption in the middle, kill -9, disk errors, and a 100,000-message conversation.
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Context, Effect, Layer, Stream } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { FileEventLog, LOCK_FILE, LOG_FILE, QUARANTINE_FILE } from "../../adapters/storage/file-event-log.ts"
import type { AppendIo, FileEventLogOptions } from "../../adapters/storage/file-event-log.ts"
import type { LogEntry, LogRecord } from "../../domain/events.ts"
import { EventLog } from "../../domain/ports/event-log.port.ts"
import type { EventLogError } from "../../domain/ports/event-log.port.ts"
import { ALICE_BOB, ALICE_CAROL, logBytes, messageEntry, presenceEntry, removeDir, tempProfileDir } from "../support/log-fixtures.ts"
import { eventLogContract } from "./event-log.contract.ts"

const dirs: Array<string> = []
const freshDir = (): string => {
  const dir = tempProfileDir("event-log")
  dirs.push(dir)
  return dir
}
afterAll(() => dirs.forEach(removeDir))

eventLogContract("FileEventLog", () => FileEventLog.layer({ dir: freshDir() }))

// --- helpers

const withLog = <A, E>(
  dir: string,
  program: Effect.Effect<A, E, EventLog>,
  options: Omit<FileEventLogOptions, "dir"> = {},
): Promise<A> => Effect.runPromise(Effect.provide(program, FileEventLog.layer({ dir, ...options })))

const openFailure = (dir: string): Promise<EventLogError> =>
  Effect.runPromise(Effect.scoped(Effect.flip(Layer.build(FileEventLog.layer({ dir })))))

const replayAll = EventLog.use((log) => Stream.runCollect(log.replay()))
const append = (entries: ReadonlyArray<LogEntry>) => EventLog.use((log) => log.append(entries))
const seqs = (records: ReadonlyArray<LogRecord>): Array<number> => records.map((record) => record.seq)
const range = (from: number, to: number): Array<number> => Array.from({ length: to - from + 1 }, (_, i) => from + i)

const logPath = (dir: string) => path.join(dir, LOG_FILE)
const fileSize = (file: string) => fs.statSync(file).size

/** The state after opening: what the report says, what replays, and the next seq. */
const reopen = (dir: string) =>
  withLog(dir, Effect.gen(function*() {
    const log = yield* EventLog
    return { recovery: log.recovery, replayed: yield* replayAll, lastSeq: yield* log.lastSeq }
  }))

/** A pid that certainly belonged to a process that has exited. */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ["-e", ""])
  if (child.pid === undefined) throw new Error("could not spawn a process")
  return child.pid
}

const entries = (count: number): Array<LogEntry> =>
  range(1, count).map((n) => (n % 4 === 0 ? presenceEntry(n) : messageEntry(n % 3 === 0 ? ALICE_CAROL : ALICE_BOB, n)))

describe("FileEventLog on disk", () => {
  it("writes exactly the framed lines, and a reopened log has the same records and continues the sequence", async () => {
    const dir = freshDir()
    const first = entries(10)
    await withLog(dir, append(first))
    expect(fs.readFileSync(logPath(dir))).toEqual(logBytes(first).bytes)
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false)

    const reopened = await withLog(dir, Effect.gen(function*() {
      const log = yield* EventLog
      const before = { recovery: log.recovery, replayed: yield* replayAll, lastSeq: yield* log.lastSeq }
      const next = yield* log.append([messageEntry(ALICE_BOB, 11)])
      const history = yield* log.history(ALICE_BOB, { limit: 3 })
      return { before, next, history }
    }))
    expect(reopened.before.recovery).toEqual({ records: 10, truncatedTailBytes: 0, corruptRecords: [] })
    expect(reopened.before.replayed).toEqual(first.map((entry, i) => ({ seq: i + 1, ...entry })))
    expect(reopened.before.lastSeq).toBe(10)
    expect(seqs(reopened.next)).toEqual([11])
    // Bob's messages are the n not divisible by 3 or 4; the index was rebuilt at open.
    expect(seqs(reopened.history.records)).toEqual([7, 10, 11])
    expect(reopened.history.hasMore).toBe(true)
  })

  it("refuses a second open of a profile in use, naming the process and the directory", async () => {
    const dir = freshDir()
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      yield* Layer.build(FileEventLog.layer({ dir }))
      const error = yield* Effect.flip(Layer.build(FileEventLog.layer({ dir })))
      expect(error.reason).toBe("locked")
      expect(error.message).toContain(String(process.pid))
      expect(error.message).toContain(dir)
    })))
    // Closing the first released the lock.
    expect((await reopen(dir)).lastSeq).toBe(0)
  })

  it("takes over the lock of a process that no longer exists", async () => {
    const dir = freshDir()
    const lockPath = path.join(dir, LOCK_FILE)
    fs.writeFileSync(lockPath, `${deadPid()}\n`)
    const lockWhileOpen = await withLog(dir, Effect.andThen(append([presenceEntry(1)]), Effect.sync(() => fs.readFileSync(lockPath, "utf8"))))
    expect(lockWhileOpen.trim()).toBe(String(process.pid))
    expect(fs.existsSync(lockPath)).toBe(false)
  })

  it("treats a fresh unreadable lock as held and an old one as stale", async () => {
    const dir = freshDir()
    const lockPath = path.join(dir, LOCK_FILE)
    fs.writeFileSync(lockPath, "")
    expect((await openFailure(dir)).reason).toBe("locked")
    const anHourAgo = new Date(Date.now() - 3_600_000)
    fs.utimesSync(lockPath, anHourAgo, anHourAgo)
    expect((await reopen(dir)).lastSeq).toBe(0)
  })

  it("refuses appends, history and replay once closed", async () => {
    const dir = freshDir()
    const log = await Effect.runPromise(Effect.scoped(Effect.map(Layer.build(FileEventLog.layer({ dir })), Context.get(EventLog))))
    const failures = await Effect.runPromise(Effect.all([
      Effect.flip(log.append([presenceEntry(1)])),
      Effect.flip(log.history(ALICE_BOB, { limit: 1 })),
      Effect.flip(Stream.runCollect(log.replay())),
    ]))
    expect(failures.map((error) => error.reason)).toEqual(["closed", "closed", "closed"])
  })

  it("cuts a torn tail, keeps a copy in the quarantine, and appends after it", async () => {
    const dir = freshDir()
    const written = entries(5)
    await withLog(dir, append(written))
    const { lineEnds } = logBytes(written)
    const cut = lineEnds[3]! + 10 // ten bytes into record 5
    fs.truncateSync(logPath(dir), cut)

    const recovered = await reopen(dir)
    expect(recovered.recovery).toEqual({ records: 4, truncatedTailBytes: 10, corruptRecords: [] })
    expect(seqs(recovered.replayed)).toEqual([1, 2, 3, 4])
    expect(fileSize(logPath(dir))).toBe(lineEnds[3])
    const quarantine = fs.readFileSync(path.join(dir, QUARANTINE_FILE))
    expect(quarantine.toString("latin1")).toMatch(new RegExp(`^quarantine v1 offset=${lineEnds[3]} length=10 reason=incomplete .* kind=tail `))
    expect(quarantine.subarray(quarantine.indexOf(0x0a) + 1, -1)).toEqual(logBytes(written).bytes.subarray(lineEnds[3], cut))

    const next = await withLog(dir, append([written[4]!]))
    expect(seqs(next)).toEqual([5])
    const clean = await reopen(dir)
    expect(clean.recovery).toEqual({ records: 5, truncatedTailBytes: 0, corruptRecords: [] })
    expect(clean.replayed).toEqual(written.map((entry, i) => ({ seq: i + 1, ...entry })))
  })

  it("cuts garbage after the last record, whole lines or not", async () => {
    const dir = freshDir()
    await withLog(dir, append(entries(3)))
    const goodSize = fileSize(logPath(dir))
    const garbage = "not a record\n\u0000\u0000\u0000\nhalf a li"
    fs.appendFileSync(logPath(dir), garbage)
    const recovered = await reopen(dir)
    expect(recovered.recovery.truncatedTailBytes).toBe(Buffer.byteLength(garbage))
    expect(fs.readFileSync(path.join(dir, QUARANTINE_FILE), "latin1")).toContain(`kind=tail`)
    expect(recovered.recovery.corruptRecords).toEqual([])
    expect(seqs(recovered.replayed)).toEqual([1, 2, 3])
    expect(fileSize(logPath(dir))).toBe(goodSize)
  })

  it("quarantines a corrupt record in the middle, keeps the records around it, and does not copy it twice", async () => {
    const dir = freshDir()
    const written = entries(5)
    const { bytes, lineEnds } = logBytes(written)
    const damaged = Buffer.from(bytes)
    damaged[lineEnds[1]! + 40]! ^= 0x04 // one bit inside record 3
    fs.writeFileSync(logPath(dir), damaged)
    const badRegion = { offset: lineEnds[1]!, length: lineEnds[2]! - lineEnds[1]!, reason: "checksum" }

    const first = await withLog(dir, Effect.gen(function*() {
      const log = yield* EventLog
      const history = yield* log.history(ALICE_BOB, { limit: 10 })
      return { recovery: log.recovery, replayed: yield* replayAll, next: yield* log.append([presenceEntry(6)]), history }
    }))
    expect(first.recovery).toEqual({ records: 4, truncatedTailBytes: 0, corruptRecords: [badRegion] })
    expect(seqs(first.replayed)).toEqual([1, 2, 4, 5])
    expect(seqs(first.next)).toEqual([6])
    expect(seqs(first.history.records)).toEqual([1, 2, 5])

    const quarantinePath = path.join(dir, QUARANTINE_FILE)
    const quarantined = fs.readFileSync(quarantinePath)
    const header = quarantined.subarray(0, quarantined.indexOf(0x0a)).toString("latin1")
    expect(header).toMatch(new RegExp(`^quarantine v1 offset=${badRegion.offset} length=${badRegion.length} reason=checksum .* kind=middle `))
    expect(quarantined.subarray(header.length + 1, -1)).toEqual(damaged.subarray(lineEnds[1], lineEnds[2]))

    const second = await reopen(dir)
    expect(second.recovery).toEqual({ records: 5, truncatedTailBytes: 0, corruptRecords: [badRegion] })
    expect(seqs(second.replayed)).toEqual([1, 2, 4, 5, 6])
    expect(fs.readFileSync(quarantinePath)).toEqual(quarantined)
  })

  it("keeps every record around a garbage line inserted in the middle", async () => {
    const dir = freshDir()
    const written = entries(4)
    const { bytes, lineEnds } = logBytes(written)
    const garbage = Buffer.from("{\"seq\":3,\"this\":\"is not a record\"}\n")
    fs.writeFileSync(logPath(dir), Buffer.concat([bytes.subarray(0, lineEnds[1]), garbage, bytes.subarray(lineEnds[1])]))
    const recovered = await reopen(dir)
    expect(recovered.recovery.corruptRecords).toEqual([{ offset: lineEnds[1], length: garbage.length, reason: "checksum" }])
    expect(recovered.replayed).toEqual(written.map((entry, i) => ({ seq: i + 1, ...entry })))
  })

  it("rolls back a failed write (disk full) and appends again afterwards", async () => {
    const dir = freshDir()
    let diskFull = false
    const appendIo: Partial<AppendIo> = {
      write: (fd, buffer, offset, length, position, callback) => {
        if (!diskFull) return fs.write(fd, buffer, offset, length, position, callback)
        // Half the batch reaches the file, then the disk is full.
        fs.write(fd, buffer, offset, Math.ceil(length / 2), position, () =>
          callback(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }), 0))
      },
    }
    const result = await withLog(dir, Effect.gen(function*() {
      const log = yield* EventLog
      yield* log.append(entries(2))
      const sizeBefore = fileSize(logPath(dir))
      diskFull = true
      const error = yield* Effect.flip(log.append(entries(3)))
      const afterFailure = { lastSeq: yield* log.lastSeq, size: fileSize(logPath(dir)) }
      diskFull = false
      const next = yield* log.append([presenceEntry(3)])
      return { sizeBefore, error, afterFailure, next }
    }), { appendIo })
    expect(result.error.reason).toBe("io")
    expect(result.error.message).toContain("ENOSPC")
    expect(result.afterFailure).toEqual({ lastSeq: 2, size: result.sizeBefore })
    expect(seqs(result.next)).toEqual([3])
    const reopened = await reopen(dir)
    expect(reopened.recovery).toEqual({ records: 3, truncatedTailBytes: 0, corruptRecords: [] })
  })

  it("refuses all appends after a failed fdatasync until reopened", async () => {
    const dir = freshDir()
    let failSync = false
    const appendIo: Partial<AppendIo> = {
      fdatasync: (fd, callback) =>
        failSync ? callback(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" })) : fs.fdatasync(fd, callback),
    }
    const result = await withLog(dir, Effect.gen(function*() {
      const log = yield* EventLog
      yield* log.append(entries(2))
      failSync = true
      const failed = yield* Effect.flip(log.append([presenceEntry(3)]))
      failSync = false
      const refused = yield* Effect.flip(log.append([presenceEntry(4)]))
      return { failed, refused, lastSeq: yield* log.lastSeq }
    }), { appendIo })
    expect(result.failed.reason).toBe("io")
    expect(result.refused.reason).toBe("io")
    expect(result.refused.message).toContain("reopen")
    expect(result.lastSeq).toBe(2)
    const reopened = await reopen(dir)
    expect(reopened.lastSeq).toBe(2)
    expect(reopened.recovery.truncatedTailBytes).toBe(0)
    expect(seqs((await withLog(dir, append([presenceEntry(3)]))))).toEqual([3])
  })

  it("keeps every acknowledged record when the writer is killed with SIGKILL", async () => {
    const dir = freshDir()
    let acknowledged = 0
    for (const killAfter of [150, 400, 250]) {
      const acked = await appendUntilKilled(dir, killAfter)
      expect(acked.length).toBeGreaterThanOrEqual(killAfter)
      const recovered = await reopen(dir)
      // The sequence is unbroken and holds every seq the child was told was durable.
      expect(seqs(recovered.replayed)).toEqual(range(1, recovered.lastSeq))
      expect(Math.max(...acked)).toBeLessThanOrEqual(recovered.lastSeq)
      expect(recovered.lastSeq).toBeGreaterThanOrEqual(acknowledged + acked.length)
      expect(recovered.recovery.corruptRecords).toEqual([])
      acknowledged = recovered.lastSeq
      // The recovery left a clean file: a second open has nothing to cut.
      const again = await reopen(dir)
      expect(again.recovery).toEqual({ records: acknowledged, truncatedTailBytes: 0, corruptRecords: [] })
    }
  })

  it("pages a 100,000-message conversation quickly, with index lookups rather than scans", async () => {
    const dir = freshDir()
    const count = 100_000
    const { bytes } = logBytes(range(1, count).map((n) => messageEntry(ALICE_BOB, n)))
    fs.writeFileSync(logPath(dir), bytes)
    const result = await withLog(dir, Effect.gen(function*() {
      const log = yield* EventLog
      const timed = <A, E>(effect: Effect.Effect<A, E>) =>
        Effect.gen(function*() {
          const start = performance.now()
          const value = yield* effect
          return { value, ms: performance.now() - start }
        })
      const newest = yield* timed(log.history(ALICE_BOB, { limit: 50 }))
      const middle = yield* timed(log.history(ALICE_BOB, { beforeSeq: 50_001, limit: 50 }))
      const replayed = yield* Stream.runCount(log.replay())
      const next = yield* log.append([messageEntry(ALICE_BOB, count + 1)])
      const afterAppend = yield* log.history(ALICE_BOB, { limit: 2 })
      return { recovery: log.recovery, newest, middle, replayed, next, afterAppend }
    }))
    expect(result.recovery.records).toBe(count)
    expect(seqs(result.newest.value.records)).toEqual(range(count - 49, count))
    expect(seqs(result.middle.value.records)).toEqual(range(49_951, 50_000))
    expect(result.middle.value.hasMore).toBe(true)
    // Generous bounds for a loaded 2-core machine; a scan of the file would take far longer.
    expect(result.newest.ms).toBeLessThan(100)
    expect(result.middle.ms).toBeLessThan(100)
    expect(result.replayed).toBe(count)
    expect(seqs(result.next)).toEqual([count + 1])
    expect(seqs(result.afterAppend.records)).toEqual([count, count + 1])
  })
})

// --- kill -9

const CHILD = fileURLToPath(new URL("../support/log-append-child.ts", import.meta.url))
const CHILD_TIMEOUT_MS = 30_000

/** Runs the appending child until it has acknowledged `killAfter` records, then SIGKILLs it. */
const appendUntilKilled = (dir: string, killAfter: number): Promise<Array<number>> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir], { stdio: ["ignore", "pipe", "pipe"] })
    const acked: Array<number> = []
    let pending = ""
    let stderr = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`the child acknowledged ${acked.length} records in ${CHILD_TIMEOUT_MS} ms; stderr: ${stderr}`))
    }, CHILD_TIMEOUT_MS)
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout.on("data", (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) if (/^[0-9]+$/.test(line)) acked.push(Number(line))
      if (acked.length >= killAfter) child.kill("SIGKILL")
    })
    child.on("exit", (_code, signal) => {
      clearTimeout(timer)
      if (signal === "SIGKILL") resolve(acked)
      else reject(new Error(`the child exited on its own (${String(signal)}); stderr: ${stderr}`))
    })
  })

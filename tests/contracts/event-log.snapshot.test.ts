/**
 * The file log's snapshot (events.snapshot): a reopened log with a good snapshot reads only its
 * tail and is the same log — same records, same report, same history, same next seq — and every
 * snapshot it cannot trust (damaged, cut short, of another format, disagreeing with the log) is
 * ignored, with the reason, and the whole log is scanned as if there were none: nothing is lost.
 * A conversation's index part is read at that conversation's first use: a damaged one is not
 * used, the log is scanned for that conversation instead, and its history is the same.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Option, Stream } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { FileEventLog, LOG_FILE, QUARANTINE_FILE } from "../../adapters/storage/file-event-log.ts"
import { crc32 } from "../../adapters/storage/record-codec.ts"
import { checkSnapshot } from "../../adapters/storage/log-snapshot.ts"
import { openSnapshot, readSnapshot, removeSnapshot, SNAPSHOT_FILE, writeSnapshot } from "../../adapters/storage/snapshot-file.ts"
import type { IndexSection } from "../../adapters/storage/snapshot-file.ts"
import { readRetryingRebuilt } from "../../adapters/storage/conversation-index.ts"
import type { HistoryIndex } from "../../adapters/storage/conversation-index.ts"
import type { LogEntry } from "../../domain/events.ts"
import { EventLog } from "../../domain/ports/event-log.port.ts"
import { ALICE_BOB, ALICE_CAROL, logBytes, messageEntry, presenceEntry, removeDir, tempProfileDir } from "../support/log-fixtures.ts"

const dirs: Array<string> = []
const freshDir = (): string => {
  const dir = tempProfileDir("snapshot")
  dirs.push(dir)
  return dir
}
afterAll(() => dirs.forEach(removeDir))

const range = (from: number, to: number): Array<number> => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const entries = (from: number, to: number): Array<LogEntry> =>
  range(from, to).map((n) => (n % 4 === 0 ? presenceEntry(n) : messageEntry(n % 3 === 0 ? ALICE_CAROL : ALICE_BOB, n)))

const withLog = <A, E>(dir: string, program: Effect.Effect<A, E, EventLog>): Promise<A> =>
  Effect.runPromise(Effect.provide(program, FileEventLog.layer({ dir })))

const RECORDS = 120
const SNAPSHOT_AT = 80
const STATE = JSON.stringify({ the: "domain's state", at: SNAPSHOT_AT })

/** A log of RECORDS records with a snapshot taken at SNAPSHOT_AT (the rest appended after it). */
const logWithSnapshot = async (): Promise<string> => {
  const dir = freshDir()
  await withLog(dir, Effect.gen(function*() {
    const log = yield* EventLog
    yield* log.append(entries(1, SNAPSHOT_AT))
    yield* log.saveSnapshot({ seq: SNAPSHOT_AT, state: STATE })
    yield* log.append(entries(SNAPSHOT_AT + 1, RECORDS))
  }))
  expect(fs.existsSync(path.join(dir, SNAPSHOT_FILE))).toBe(true)
  return dir
}

/** Everything a reopened log shows, the snapshot handed over included. */
const opened = (dir: string) =>
  withLog(dir, Effect.gen(function*() {
    const log = yield* EventLog
    const status = log.snapshotStatus
    const snapshot = yield* log.takeSnapshot
    const again = yield* log.takeSnapshot
    const tail = Option.isSome(snapshot) ? yield* Stream.runCollect(log.replayAfter(snapshot.value.seq)) : []
    const bob = yield* log.history(ALICE_BOB, { limit: 1000 })
    const carolNewest = yield* log.history(ALICE_CAROL, { limit: 5 })
    const replayed = yield* Stream.runCollect(log.replay())
    const next = yield* log.append([presenceEntry(9999)])
    return { status, snapshot, again, tail, bob, carolNewest, replayed, recovery: log.recovery, next: next[0]?.seq }
  }))

/** The same log, opened without any snapshot: what every fallback must equal. */
const openedWithout = async (dir: string) => {
  const copy = freshDir()
  fs.copyFileSync(path.join(dir, LOG_FILE), path.join(copy, LOG_FILE))
  return opened(copy)
}

const snapshotPath = (dir: string) => path.join(dir, SNAPSHOT_FILE)

describe("FileEventLog snapshots", () => {
  it("a reopened log with a good snapshot reads only the tail, and is the same log", async () => {
    const dir = await logWithSnapshot()
    const without = await openedWithout(dir)
    const withSnapshot = await opened(dir)
    expect(withSnapshot.status).toEqual({ _tag: "loaded", seq: SNAPSHOT_AT, tailRecords: RECORDS - SNAPSHOT_AT })
    expect(withSnapshot.snapshot).toEqual(Option.some({ seq: SNAPSHOT_AT, state: STATE }))
    // Handed over once, then forgotten (the profile holds the state from then on).
    expect(Option.isNone(withSnapshot.again)).toBe(true)
    expect(withSnapshot.tail.map((r) => r.seq)).toEqual(range(SNAPSHOT_AT + 1, RECORDS))
    expect(without.status).toEqual({ _tag: "none" })
    expect(withSnapshot.recovery).toEqual(without.recovery)
    expect(withSnapshot.recovery).toEqual({ records: RECORDS, truncatedTailBytes: 0, corruptRecords: [] })
    expect(withSnapshot.replayed).toEqual(without.replayed)
    // The history index came from the snapshot (before it) and from the tail (after it).
    expect(withSnapshot.bob).toEqual(without.bob)
    expect(withSnapshot.bob.records.some((r) => r.seq < SNAPSHOT_AT) && withSnapshot.bob.records.some((r) => r.seq > SNAPSHOT_AT)).toBe(true)
    expect(withSnapshot.carolNewest).toEqual(without.carolNewest)
    expect(withSnapshot.next).toBe(RECORDS + 1)
  })

  it("does not read the bytes before the snapshot at open: damage there shows at a full replay, not in the open's report", async () => {
    const dir = await logWithSnapshot()
    const bytes = fs.readFileSync(path.join(dir, LOG_FILE))
    const { lineEnds } = logBytes(entries(1, RECORDS))
    // A byte of record 10's JSON, well before the snapshot's record.
    bytes[lineEnds[8]! + 20] = bytes[lineEnds[8]! + 20]! ^ 0x01
    fs.writeFileSync(path.join(dir, LOG_FILE), bytes)
    const outcome = await withLog(dir, Effect.gen(function*() {
      const log = yield* EventLog
      return { status: log.snapshotStatus, recovery: log.recovery, full: yield* Effect.flip(Stream.runCollect(log.replay())) }
    }))
    expect(outcome.status._tag).toBe("loaded")
    expect(outcome.recovery.corruptRecords).toEqual([])
    expect(outcome.full.message).toMatch(/changed on disk/)
  })

  it("a torn write after the snapshot is cut and quarantined as without one", async () => {
    const dir = await logWithSnapshot()
    const torn = "0badc0de {\"seq\":121,\"at"
    fs.appendFileSync(path.join(dir, LOG_FILE), torn)
    const withSnapshot = await opened(dir)
    expect(withSnapshot.status._tag).toBe("loaded")
    expect(withSnapshot.recovery).toEqual({ records: RECORDS, truncatedTailBytes: Buffer.byteLength(torn), corruptRecords: [] })
    expect(fs.existsSync(path.join(dir, QUARANTINE_FILE))).toBe(true)
    expect(withSnapshot.replayed.map((r) => r.seq)).toEqual(range(1, RECORDS))
    expect(withSnapshot.next).toBe(RECORDS + 1)
  })

  it("a newer snapshot replaces the older, atomically, and a second open uses it", async () => {
    const dir = await logWithSnapshot()
    await withLog(dir, Effect.gen(function*() {
      const log = yield* EventLog
      yield* log.saveSnapshot({ seq: RECORDS, state: "newer" })
    }))
    expect(fs.readdirSync(dir).filter((f) => f.includes("snapshot"))).toEqual([SNAPSHOT_FILE])
    const reopened = await opened(dir)
    expect(reopened.status).toEqual({ _tag: "loaded", seq: RECORDS, tailRecords: 0 })
    expect(reopened.snapshot).toEqual(Option.some({ seq: RECORDS, state: "newer" }))
    expect(reopened.replayed.map((r) => r.seq)).toEqual(range(1, RECORDS))
  })

  describe("an untrustworthy snapshot is ignored and the whole log is read", () => {
    /** Opens after `attack`, checks the fallback equals a snapshot-less open; returns the reason. */
    const fallsBack = async (attack: (dir: string) => void | Promise<void>): Promise<string> => {
      const dir = await logWithSnapshot()
      await attack(dir)
      const expected = await openedWithout(dir)
      const outcome = await opened(dir)
      if (outcome.status._tag !== "ignored") throw new Error(`not ignored: ${JSON.stringify(outcome.status)}`)
      expect(Option.isNone(outcome.snapshot)).toBe(true)
      expect(outcome.recovery).toEqual(expected.recovery)
      expect(outcome.replayed).toEqual(expected.replayed)
      expect(outcome.bob).toEqual(expected.bob)
      expect(outcome.next).toBe(expected.next)
      return outcome.status.reason
    }

    it("one flipped byte anywhere in its header or state; in an index part, that conversation is scanned", async () => {
      const dir = await logWithSnapshot()
      const size = fs.statSync(snapshotPath(dir)).size
      const before = openSnapshot(dir)
      if (before._tag !== "opened") throw new Error(before._tag)
      const indexStart = before.snapshot.parts[0]!.position
      const reasons = new Set<string>()
      let inIndex = 0
      // About 60 positions spread over the file, the first and the last byte included.
      const stride = Math.ceil(size / 60)
      const positions = [...range(0, Math.floor((size - 1) / stride)).map((i) => i * stride), size - 1]
      const flip = (at: number) => (d: string) => {
        const bytes = fs.readFileSync(snapshotPath(d))
        bytes[at] = bytes[at]! ^ 0x10
        fs.writeFileSync(snapshotPath(d), bytes)
      }
      for (const at of positions) {
        if (at < indexStart) {
          reasons.add((await fallsBack(flip(at))).replace(/\d+/g, "N"))
          continue
        }
        inIndex++
        const damagedDir = await logWithSnapshot()
        flip(at)(damagedDir)
        const expected = await openedWithout(damagedDir)
        const outcome = await opened(damagedDir)
        // The header and state are good: the snapshot is used; the damaged part is not.
        expect(outcome.status._tag).toBe("loaded")
        expect(outcome.bob).toEqual(expected.bob)
        expect(outcome.carolNewest).toEqual(expected.carolNewest)
        expect(outcome.replayed).toEqual(expected.replayed)
        expect(outcome.next).toBe(expected.next)
      }
      // The flips were caught in every section, not all by one check.
      expect([...reasons].some((r) => /header/.test(r))).toBe(true)
      expect([...reasons].some((r) => /state's checksum/.test(r))).toBe(true)
      expect(inIndex).toBeGreaterThanOrEqual(10)
    }, 120_000)

    it("cut short", async () => {
      expect(await fallsBack((dir) => fs.truncateSync(snapshotPath(dir), fs.statSync(snapshotPath(dir)).size - 3))).toMatch(/header says/)
      expect(await fallsBack((dir) => fs.truncateSync(snapshotPath(dir), 30))).toMatch(/header/)
      expect(await fallsBack((dir) => fs.truncateSync(snapshotPath(dir), 0))).toMatch(/not a snapshot/)
    })

    it("of another format version", async () => {
      expect(await fallsBack((dir) => {
        const bytes = fs.readFileSync(snapshotPath(dir))
        fs.writeFileSync(snapshotPath(dir), Buffer.concat([Buffer.from("mqtt-chat-snapshot 3"), bytes.subarray("mqtt-chat-snapshot 2".length)]))
      })).toMatch(/format 3/)
      // Format 1 (one index section for all conversations, before parts were read lazily).
      expect(await fallsBack((dir) => {
        const bytes = fs.readFileSync(snapshotPath(dir))
        fs.writeFileSync(snapshotPath(dir), Buffer.concat([Buffer.from("mqtt-chat-snapshot 1"), bytes.subarray("mqtt-chat-snapshot 2".length)]))
      })).toMatch(/format 1, this code reads format 2/)
    })

    /** Rewrites the snapshot with a well-formed header that says something else. */
    const rewritten = (change: (header: Record<string, number>) => void) => async (dir: string) => {
      const read = readSnapshot(dir)
      if (read._tag !== "read") throw new Error(read._tag)
      const header = { ...read.contents.header }
      change(header as unknown as Record<string, number>)
      await writeSnapshot(dir, { ...read.contents, header })
    }

    it("naming a record beyond the log's end", async () => {
      expect(await fallsBack(rewritten((h) => { h["seq"] = RECORDS + 50; h["offset"] = 10_000_000 }))).toMatch(/log ends at/)
      // The right place, the wrong seq: the record there is another one.
      expect(await fallsBack(rewritten((h) => { h["seq"] = RECORDS + 50 }))).toMatch(/is 80, not 170/)
    })

    it("with an offset in the middle of a record", async () => {
      expect(await fallsBack(rewritten((h) => { h["offset"] = h["offset"]! + 5 }))).toMatch(/does not match the log/)
      expect(await fallsBack(rewritten((h) => { h["length"] = h["length"]! - 1 }))).toMatch(/does not match the log/)
    })

    it("whose record's bytes changed (the log was rewritten under it)", async () => {
      expect(await fallsBack((dir) => {
        const file = path.join(dir, LOG_FILE)
        const bytes = fs.readFileSync(file)
        const { lineEnds } = logBytes(entries(1, RECORDS))
        // Record 80 with another clock, same length, re-checksummed: a valid record, not the snapshot's.
        const start = lineEnds[SNAPSHOT_AT - 2]!
        const original = bytes.subarray(start, lineEnds[SNAPSHOT_AT - 1]!).toString("utf8")
        const line = original.replace("\"clock\":80", "\"clock\":81")
        expect(line).not.toBe(original)
        const json = line.slice(9, -1)
        const crc = crc32(Buffer.from(json)).toString(16).padStart(8, "0")
        Buffer.from(`${crc} ${json}\n`).copy(bytes, start)
        fs.writeFileSync(file, bytes)
      })).toMatch(/are not its record 80's/)
    })

    it("when the log was cut below the snapshot's record (a torn tail below it)", async () => {
      const reason = await fallsBack((dir) => {
        const { lineEnds } = logBytes(entries(1, RECORDS))
        // In the middle of record 60: records 1..59 stay, the rest is a torn tail.
        fs.truncateSync(path.join(dir, LOG_FILE), lineEnds[58]! + 17)
      })
      expect(reason).toMatch(/log ends at/)
      const dir = await logWithSnapshot()
      const { lineEnds } = logBytes(entries(1, RECORDS))
      fs.truncateSync(path.join(dir, LOG_FILE), lineEnds[58]! + 17)
      const outcome = await opened(dir)
      expect(outcome.recovery).toEqual({ records: 59, truncatedTailBytes: 17, corruptRecords: [] })
      expect(outcome.replayed.map((r) => r.seq)).toEqual(range(1, 59))
      expect(outcome.next).toBe(60)
    })

    it("garbage in its place, or a directory", async () => {
      expect(await fallsBack((dir) => fs.writeFileSync(snapshotPath(dir), "{\"seq\": 80}\n"))).toMatch(/not a snapshot/)
      expect(await fallsBack((dir) => {
        removeSnapshot(dir)
        fs.mkdirSync(snapshotPath(dir))
      })).toMatch(/cannot read/)
    })
  })

  describe("an index part is read at its conversation's first use, and checked then", () => {
    /** The log's fd and the snapshot's check, as the file log does at open; `use` runs on the restored index. */
    const checked = <A>(dir: string, use: (index: HistoryIndex) => A) => {
      const fd = fs.openSync(path.join(dir, LOG_FILE), "r")
      const fallbacks: Array<string> = []
      try {
        const check = checkSnapshot(dir, fd, (reason) => fallbacks.push(reason))
        if (check._tag !== "usable") throw new Error(check._tag)
        return { result: use(check.snapshot.index), fallbacks }
      } finally {
        fs.closeSync(fd)
      }
    }
    const entriesOf = (index: HistoryIndex, topic: typeof ALICE_BOB) => {
      const conversation = index.get(topic)!
      // As the log's history does: a read that met a damaged block reads again from the rebuilt index.
      return readRetryingRebuilt(() => range(0, conversation.size - 1).map((i) => conversation.entryAt(i)))
    }
    /** The entries the good snapshot of `dir` gives, per conversation (what any fallback must equal). */
    const fromGoodSnapshot = (dir: string) => {
      const { result, fallbacks } = checked(dir, (index) => ({ bob: entriesOf(index, ALICE_BOB), carol: entriesOf(index, ALICE_CAROL) }))
      expect(fallbacks).toEqual([])
      return result
    }

    it("paged, not read at open; a good part gives the entries the log's scan gives", async () => {
      const dir = await logWithSnapshot()
      const { result, fallbacks } = checked(dir, (index) => {
        const paged = [index.get(ALICE_BOB)!.loaded, index.get(ALICE_CAROL)!.loaded]
        return { paged, bob: entriesOf(index, ALICE_BOB), stillPaged: index.get(ALICE_BOB)!.loaded }
      })
      expect(result.paged).toEqual([false, false])
      // Reading entries reads blocks, not the whole part into the index.
      expect(result.stillPaged).toBe(false)
      expect(fallbacks).toEqual([])
      // Records 1..80 with ALICE_BOB: n % 4 !== 0 and n % 3 !== 0.
      expect(result.bob.map((e) => e.seq)).toEqual(range(1, SNAPSHOT_AT).filter((n) => n % 4 !== 0 && n % 3 !== 0))
    })

    /** Rewrites the snapshot with its index changed by `change`, checksums recomputed (a lying but well-formed file). */
    const rewrittenIndex = async (dir: string, change: (index: IndexSection) => IndexSection) => {
      const read = readSnapshot(dir)
      if (read._tag !== "read") throw new Error(read._tag)
      await writeSnapshot(dir, { ...read.contents, index: change(read.contents.index) })
    }

    const attacks: ReadonlyArray<readonly [string, (dir: string) => void | Promise<void>, RegExp]> = [
      ["a flipped byte in a part", (dir) => {
        const opened = openSnapshot(dir)
        if (opened._tag !== "opened") throw new Error(opened._tag)
        const part = opened.snapshot.parts.find((p) => p.topic === ALICE_BOB)!
        const bytes = fs.readFileSync(snapshotPath(dir))
        const at = part.position + 8 * part.count + 3
        bytes[at] = bytes[at]! ^ 0x04
        fs.writeFileSync(snapshotPath(dir), bytes)
      }, /index's checksum of .* does not match/],
      ["seqs out of order inside a block, checksummed", (dir) => rewrittenIndex(dir, (index) => ({
        ...index,
        // Two middle seqs swapped: the block's first and last (in the header) stay right.
        seqs: index.seqs.map((seqs) => {
          const swapped = Float64Array.from(seqs)
          swapped[1] = seqs[2]!
          swapped[2] = seqs[1]!
          return swapped
        }),
      })), /out of order/],
      ["an offset past the snapshot's part of the log, checksummed", (dir) => rewrittenIndex(dir, (index) => ({
        ...index,
        offsets: index.offsets.map((offsets) => Float64Array.from(offsets, (o, i) => (i === 0 ? o + 1e9 : o))),
      })), /outside the log/],
    ]
    for (const [name, attack, reason] of attacks) {
      it(`${name}: not used, that conversation is scanned from the log; the open does not fail`, async () => {
        const dir = await logWithSnapshot()
        const expected = fromGoodSnapshot(dir)
        await attack(dir)
        const { result, fallbacks } = checked(dir, (index) => ({ bob: entriesOf(index, ALICE_BOB), carol: entriesOf(index, ALICE_CAROL) }))
        expect(result).toEqual(expected)
        expect(fallbacks.length).toBeGreaterThanOrEqual(1)
        expect(fallbacks.some((f) => reason.test(f))).toBe(true)
      })
    }

    it("the file replaced between the open and the first use: not read, that conversation is scanned", async () => {
      const dir = await logWithSnapshot()
      const expected = fromGoodSnapshot(dir)
      const { result, fallbacks } = checked(dir, (index) => {
        // Another file in its place (not the one whose header was checked).
        fs.rmSync(snapshotPath(dir))
        fs.writeFileSync(snapshotPath(dir), "not the snapshot that was opened\n")
        return { bob: entriesOf(index, ALICE_BOB), carol: entriesOf(index, ALICE_CAROL) }
      })
      expect(result).toEqual(expected)
      expect(fallbacks.some((f) => /replaced since it was opened/.test(f))).toBe(true)
    })

    it("an entry that points at another conversation's record (checksummed): its page is refused, not shown", async () => {
      const dir = await logWithSnapshot()
      await rewrittenIndex(dir, (index) => {
        const bob = index.topics.findIndex(([topic]) => topic === ALICE_BOB)
        const carol = index.topics.findIndex(([topic]) => topic === ALICE_CAROL)
        // Bob's seq 2 becomes Carol's record 3 (seqs stay ascending: 1, 3, 5, ...).
        const at = index.seqs[bob]!.indexOf(2)
        const from = index.seqs[carol]!.indexOf(3)
        expect([at, from].every((i) => i >= 0)).toBe(true)
        const copy = <T extends Float64Array | Uint32Array>(arrays: ReadonlyArray<T>, make: (a: T) => T) => arrays.map((a, i) => {
          if (i !== bob) return a
          const changed = make(a)
          changed[at] = arrays[carol]![from]!
          return changed
        })
        return {
          ...index,
          seqs: copy(index.seqs, (a) => Float64Array.from(a)),
          offsets: copy(index.offsets, (a) => Float64Array.from(a)),
          lengths: copy(index.lengths, (a) => Uint32Array.from(a)),
        }
      })
      const outcome = await withLog(dir, Effect.gen(function*() {
        const log = yield* EventLog
        return { status: log.snapshotStatus, page: yield* Effect.flip(log.history(ALICE_BOB, { limit: 1000 })), carol: yield* log.history(ALICE_CAROL, { limit: 1000 }) }
      }))
      expect(outcome.status._tag).toBe("loaded")
      expect(outcome.page.message).toMatch(/record 3 is no longer readable \(it is not in this conversation\)/)
      expect(outcome.carol.records.map((r) => r.seq)).toContain(3)
    })

    it("through the log: a flipped byte in a part is told to onIndexFallback, and the history is the scan's", async () => {
      const dir = await logWithSnapshot()
      const expected = await openedWithout(dir)
      const opened = openSnapshot(dir)
      if (opened._tag !== "opened") throw new Error(opened._tag)
      const part = opened.snapshot.parts.find((p) => p.topic === ALICE_BOB)!
      const bytes = fs.readFileSync(snapshotPath(dir))
      const at = part.position + 16 * part.count + 1
      bytes[at] = bytes[at]! ^ 0x01
      fs.writeFileSync(snapshotPath(dir), bytes)
      const reasons: Array<string> = []
      const outcome = await Effect.runPromise(Effect.provide(Effect.gen(function*() {
        const log = yield* EventLog
        const before = [...reasons]
        return { status: log.snapshotStatus, before, bob: yield* log.history(ALICE_BOB, { limit: 1000 }), carol: yield* log.history(ALICE_CAROL, { limit: 5 }) }
      }), FileEventLog.layer({ dir, onIndexFallback: (reason) => reasons.push(reason) })))
      expect(outcome.status._tag).toBe("loaded")
      // Not at open: when the history is read.
      expect(outcome.before).toEqual([])
      expect(reasons).toHaveLength(1)
      expect(reasons[0]).toMatch(/index of .* is not used \(the index's checksum of .* does not match \(block 0\)\): scanned from the log/)
      expect(outcome.bob).toEqual(expected.bob)
      expect(outcome.carol).toEqual(expected.carolNewest)
    })

    it("an entry added before the first use follows the part's entries", async () => {
      const dir = await logWithSnapshot()
      const { result } = checked(dir, (index) => {
        index.add(ALICE_BOB, { seq: 10_000, offset: 5, length: 7 })
        const conversation = index.get(ALICE_BOB)!
        return { wasLoaded: conversation.loaded, last: conversation.entryAt(conversation.size - 1), first: conversation.seqAt(0), size: conversation.size }
      })
      expect(result.wasLoaded).toBe(false)
      expect(result.first).toBe(1)
      expect(result.last).toEqual({ seq: 10_000, offset: 5, length: 7 })
      expect(result.size).toBe(range(1, SNAPSHOT_AT).filter((n) => n % 4 !== 0 && n % 3 !== 0).length + 1)
    })
  })
})

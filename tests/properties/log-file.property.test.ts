/**
 * Properties of the log file format (record-codec.ts) and of the scan that recovers it
 * (log-scan.ts): round trips, a cut at every byte offset, any flipped bit, and garbage.
 * fast-check prints the seed and the shrunk counterexample on failure; FC_NUM_RUNS raises the runs.
 */
import { isUtf8 } from "node:buffer"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Result, Stream } from "effect"
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import { FileEventLog, LOG_FILE } from "../../adapters/storage/file-event-log.ts"
import { LogScanner, scanLog } from "../../adapters/storage/log-scan.ts"
import { crc32, crc32Portable, decodeRecordLine, encodeRecordLine, MAX_LINE_BYTES } from "../../adapters/storage/record-codec.ts"
import { EventLog } from "../../domain/ports/event-log.port.ts"
import { entryArb, logBytes, recordArb, removeDir, tempProfileDir } from "../support/log-fixtures.ts"
import { NUM_RUNS } from "../support/properties.ts"

/** A line as the decoder takes it: without its newline. */
const withoutNewline = (line: Buffer): Buffer => line.subarray(0, line.length - 1)

/** Frames any text with a correct checksum, so that it reaches the JSON and schema checks. */
const framed = (json: string): Buffer => {
  const body = Buffer.from(json, "utf8")
  return Buffer.concat([Buffer.from(`${crc32(body).toString(16).padStart(8, "0")} `, "latin1"), body])
}

/** Small logs for byte-level properties. */
const smallLogArb = fc.array(entryArb({ textLength: 24, maxOut: 1 }), { minLength: 1, maxLength: 4 })
/** Tiny logs for the every-cut property, which rescans the prefix at each of its ~500 offsets. */
const tinyLogArb = fc.array(entryArb({ textLength: 12, maxOut: 0 }), { minLength: 1, maxLength: 3 })

describe("log record codec", () => {
  it("decodes what it encodes, whatever the record holds", () => {
    fc.assert(
      fc.property(recordArb(), (record) => {
        const line = encodeRecordLine(record)
        expect(line[line.length - 1]).toBe(0x0a)
        expect(line.indexOf(0x0a)).toBe(line.length - 1)
        const decoded = decodeRecordLine(withoutNewline(line))
        expect(Result.isSuccess(decoded) ? decoded.success : decoded.failure).toEqual(record)
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("computes the same CRC-32 with zlib and with the portable table, in one piece or in chunks", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, split) => {
        const at = bytes.length === 0 ? 0 : split % bytes.length
        expect(crc32Portable(bytes)).toBe(crc32(bytes))
        expect(crc32Portable(bytes.subarray(at), crc32Portable(bytes.subarray(0, at)))).toBe(crc32(bytes))
      }),
      { numRuns: NUM_RUNS },
    )
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926) // the standard check value
  })

  it("returns an error for garbage and never throws", () => {
    const protoPolluting = fc.constantFrom(
      '{"__proto__":{"seq":1,"polluted":true}}',
      '{"seq":1,"at":0,"clock":0,"event":{"__proto__":{"_tag":"session.started","session":1}},"out":[]}',
      '{"constructor":{"prototype":{"polluted":true}},"seq":"1"}',
      '{"seq":1,"at":0,"clock":0,"event":{"_tag":"session.started","session":1},"out":{"__proto__":[]}}',
    )
    const garbageLine = fc.oneof(
      fc.anything().map((value) => Buffer.from(JSON.stringify(value) ?? "undefined", "utf8")),
      fc.anything().map((value) => framed(JSON.stringify(value) ?? "undefined")),
      fc.string({ unit: "binary", maxLength: 200 }).map((text) => Buffer.from(text, "utf8")),
      fc.string({ unit: "binary", maxLength: 200 }).map(framed),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
      protoPolluting.map((json) => framed(json)),
      fc.constant(framed(`"${"a".repeat(MAX_LINE_BYTES)}"`)),
      fc.integer({ min: MAX_LINE_BYTES - 2, max: MAX_LINE_BYTES + 2 }).map((size) => Buffer.alloc(size, 0x7b)),
    )
    fc.assert(
      fc.property(garbageLine, (line) => {
        const decoded = decodeRecordLine(line)
        expect(Result.isFailure(decoded)).toBe(true)
      }),
      { numRuns: NUM_RUNS },
    )
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
  })
})

describe("log scan", () => {
  it("recovers exactly the complete records before a cut at every byte offset", () => {
    fc.assert(
      fc.property(tinyLogArb, (entries) => {
        const { bytes, lineEnds } = logBytes(entries)
        const full = scanLog(bytes)
        expect(full.records.map(({ record }) => record)).toEqual(entries.map((entry, i) => ({ seq: i + 1, ...entry })))
        // Every prefix: the records are the complete lines, by position and seq (their content was
        // checked just above and by the round trip); the rest is the tail. Plain comparisons here:
        // this loop runs a few hundred thousand times.
        for (let cut = 0; cut <= bytes.length; cut++) {
          const scan = scanLog(bytes.subarray(0, cut))
          const complete = lineEnds.filter((end) => end <= cut).length
          const tailStart = complete === 0 ? 0 : lineEnds[complete - 1]!
          const asExpected = scan.records.length === complete &&
            scan.records.every(({ record, offset, length }, i) =>
              record.seq === i + 1 && offset === (i === 0 ? 0 : lineEnds[i - 1]) && offset + length === lineEnds[i]) &&
            scan.tailStart === tailStart &&
            (scan.tail?.length ?? 0) === cut - tailStart &&
            scan.corrupt.length === 0
          if (!asExpected) expect({ cut, ...scan, records: scan.records.map(({ offset, length }) => [offset, length]) }).toEqual({ cut, lineEnds })
        }
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("never returns a record with a flipped bit, and keeps every record before it", () => {
    fc.assert(
      fc.property(smallLogArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (entries, at, bit) => {
        const { bytes, lineEnds } = logBytes(entries)
        const original = scanLog(bytes).records
        const position = at % bytes.length
        const damaged = Buffer.from(bytes)
        damaged[position]! ^= 1 << bit
        const hit = lineEnds.findIndex((end) => position < end)

        const scan = scanLog(damaged)
        const returned = scan.records.map(({ record }) => record)
        expect(returned.map(({ seq }) => seq)).not.toContain(hit + 1)
        // Whatever survives is an original record, unchanged; everything before the hit survives.
        for (const record of returned) expect(record).toEqual(original[record.seq - 1]!.record)
        expect(returned.slice(0, hit)).toEqual(original.slice(0, hit).map(({ record }) => record))
      }),
      { numRuns: NUM_RUNS },
    )
  })

  it("finds, between lines of bad UTF-8 and byte order marks, the records a line-by-line decode finds", () => {
    // A line as the log might hold it: a record (at the right seq, or not), the same record's JSON
    // behind a byte order mark (which the strict decoder drops), or bytes of any kind with a checksum.
    const lineArb = fc.oneof(
      { weight: 3, arbitrary: fc.constant("record" as const) },
      { weight: 1, arbitrary: fc.constant("bom" as const) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes.filter((b) => b !== 0x0a))) },
    )
    let badUtf8 = 0
    let boms = 0
    fc.assert(
      fc.property(fc.array(fc.tuple(entryArb({ textLength: 16, maxOut: 1 }), lineArb), { minLength: 1, maxLength: 8 }), fc.nat(), (lines, chunkSeed) => {
        const framedLines = lines.map(([entry, kind], i) => {
          const line = withoutNewline(encodeRecordLine({ seq: i + 1, ...entry }))
          if (kind === "record") return line
          if (kind === "bom") return framed(`\uFEFF${line.subarray(9).toString("utf8")}`)
          return Buffer.concat([Buffer.from(`${crc32(kind).toString(16).padStart(8, "0")} `, "latin1"), kind])
        })
        const bytes = Buffer.concat(framedLines.flatMap((line) => [line, Buffer.from("\n")]))
        if (!isUtf8(bytes)) badUtf8++
        if (lines.some(([, kind]) => kind === "bom")) boms++
        // The reference: each line decoded on its own, the sequence rule applied by hand.
        const expected: Array<number> = []
        let lastSeq = 0
        let badSince = false
        for (const line of framedLines) {
          const decoded = decodeRecordLine(line)
          const seq = Result.isSuccess(decoded) ? decoded.success.seq : -1
          if (seq === lastSeq + 1 || (badSince && seq > lastSeq)) {
            expected.push(seq)
            lastSeq = seq
            badSince = false
          } else badSince = true
        }
        const chunked: Array<number> = []
        const chunkedScanner = new LogScanner(({ record }) => chunked.push(record.seq))
        const size = 1 + (chunkSeed % bytes.length)
        for (let at = 0; at < bytes.length; at += size) chunkedScanner.push(bytes.subarray(at, at + size))
        chunkedScanner.finish()
        expect(scanLog(bytes).records.map(({ record }) => record.seq)).toEqual(expected)
        expect(chunked).toEqual(expected)
      }),
      { numRuns: NUM_RUNS },
    )
    expect(badUtf8).toBeGreaterThan(NUM_RUNS / 10)
    expect(boms).toBeGreaterThan(NUM_RUNS / 10)
  })

  it("skips an oversize line in the middle, whole or in chunks, and keeps the records on both sides", () => {
    const { bytes } = logBytes([0, 1, 2, 3].map(() => ({ at: 1, clock: 1, event: { _tag: "session.ended", session: 1 }, out: [] }) as never))
    const lineLength = bytes.length / 4
    const oversize = Buffer.concat([Buffer.alloc(2 * MAX_LINE_BYTES + 10, 0x7b), Buffer.from("\n")])
    const damaged = Buffer.concat([bytes.subarray(0, 2 * lineLength), oversize, bytes.subarray(2 * lineLength)])
    for (const chunk of [damaged.length, 64 * 1024, 1000, 333_333]) {
      const seqs: Array<number> = []
      const scanner = new LogScanner(({ record }) => seqs.push(record.seq))
      for (let at = 0; at < damaged.length; at += chunk) scanner.push(damaged.subarray(at, at + chunk))
      const summary = scanner.finish()
      expect({ chunk, seqs }).toEqual({ chunk, seqs: [1, 2, 3, 4] })
      expect(summary.corrupt).toEqual([{ offset: 2 * lineLength, length: oversize.length, reason: "oversize" }])
    }
  })

  it("gives the same result however the bytes are chunked", () => {
    fc.assert(
      fc.property(smallLogArb, fc.array(fc.nat(), { maxLength: 6 }), fc.nat(), (entries, splits, cutSeed) => {
        const { bytes } = logBytes(entries)
        const cut = cutSeed % (bytes.length + 1)
        const whole = scanLog(bytes.subarray(0, cut))
        const points = [...new Set(splits.map((split) => split % (cut + 1)))].sort((a, b) => a - b)
        const records: Array<unknown> = []
        const scanner = new LogScanner((scanned) => records.push(scanned))
        let from = 0
        for (const point of [...points, cut]) {
          scanner.push(bytes.subarray(from, point))
          from = point
        }
        const summary = scanner.finish()
        expect(records).toEqual(whole.records)
        expect({ ...summary, records }).toEqual(whole)
      }),
      { numRuns: NUM_RUNS },
    )
  })
})

// A few cuts against the real file, to tie the pure scan to what the opener does with it.
describe("log file cut on disk", () => {
  const dirs: Array<string> = []
  afterAll(() => dirs.forEach(removeDir))

  it("reopens a file cut anywhere with exactly the complete records, and continues after them", async () => {
    const [entries] = fc.sample(fc.array(entryArb(), { minLength: 8, maxLength: 8 }), { numRuns: 1, seed: 20_240_601 })
    const { bytes, lineEnds } = logBytes(entries!)
    const cuts = [0, 1, lineEnds[0]!, lineEnds[0]! + 1, lineEnds[3]! - 1, lineEnds[5]! + 9, bytes.length - 1, bytes.length]
    for (const cut of cuts) {
      const dir = tempProfileDir("log-cut")
      dirs.push(dir)
      fs.writeFileSync(path.join(dir, LOG_FILE), bytes.subarray(0, cut))
      const complete = lineEnds.filter((end) => end <= cut).length
      const result = await Effect.runPromise(Effect.provide(
        Effect.gen(function*() {
          const log = yield* EventLog
          const next = yield* log.append([entries![0]!])
          return { recovery: log.recovery, replayed: yield* Stream.runCollect(log.replay()), next }
        }),
        FileEventLog.layer({ dir }),
      ))
      const tailStart = complete === 0 ? 0 : lineEnds[complete - 1]!
      expect(result.recovery).toEqual({ records: complete, truncatedTailBytes: cut - tailStart, corruptRecords: [] })
      expect(result.next.map(({ seq }) => seq)).toEqual([complete + 1])
      expect(result.replayed.map(({ seq }) => seq)).toEqual(Array.from({ length: complete + 1 }, (_, i) => i + 1))
    }
  })
})

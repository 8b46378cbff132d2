/**
 * The on-disk framing of one log record, one line per record:
 *
 *     <crc32 of the JSON bytes, 8 lowercase hex digits> <Schema-encoded LogRecord as JSON>\n
 *
 * JSON never contains a raw newline, so `\n` ends a record unambiguously and a reader can resync
 * after garbage. The checksum catches torn writes and flipped bits; the schema catches the rest.
 * Decoding never throws: a bad line is a value the scanner classifies (torn tail or corruption).
 */
import * as zlib from "node:zlib"
import { Result, Schema } from "effect"
import { LogRecord } from "../../domain/events.ts"
import { isFastLogRecord } from "./record-fast-path.ts"

/** A whole line, newline included. Longer lines are corrupt by definition: never parsed. */
/** A record carries at most 300 messages (a leader refusing every pending join): about 150 KiB. */
export const MAX_LINE_BYTES = 1024 * 1024
export const NEWLINE = 0x0a
const SPACE = 0x20
const CHECKSUM_DIGITS = 8
/** `<8 hex digits><space>` */
const HEADER_BYTES = CHECKSUM_DIGITS + 1

export type LineFailureReason =
  | "checksum" // header missing or malformed, or the CRC does not match the bytes
  | "json" // checksum fine, but not UTF-8 JSON (only a writer bug gets here)
  | "schema" // valid JSON, not a LogRecord
  | "sequence" // a valid record with the wrong sequence number
  | "oversize" // longer than MAX_LINE_BYTES
  | "incomplete" // the file ends before the newline: a torn write

export interface LineFailure {
  readonly reason: LineFailureReason
  readonly detail: string
}

// --- CRC-32 (IEEE 802.3, the zlib/PNG polynomial)

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/**
 * Table-driven CRC-32 for Node builds without `zlib.crc32`; same results, slower. `previous` is the
 * CRC of the bytes before these, to checksum data in chunks.
 */
export const crc32Portable = (bytes: Uint8Array, previous = 0): number => {
  let crc = (previous ^ 0xffffffff) >>> 0
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

// `zlib.crc32` arrived in Node 20.15 / 22.2: feature-detect rather than trust the engines field.
const nativeCrc32: ((bytes: Uint8Array, previous?: number) => number) | undefined =
  typeof (zlib as { crc32?: unknown }).crc32 === "function"
    ? (bytes, previous = 0) => zlib.crc32(bytes, previous) >>> 0
    : undefined

export const crc32: (bytes: Uint8Array, previous?: number) => number = nativeCrc32 ?? crc32Portable

// --- encoding

const LogRecordJson = Schema.fromJsonString(LogRecord)
const encodeLogRecordJson = Schema.encodeSync(LogRecordJson)
const decodeLogRecord = Schema.decodeUnknownResult(LogRecord)
const strictUtf8 = new TextDecoder("utf-8", { fatal: true })

const hex8 = (value: number): string => value.toString(16).padStart(CHECKSUM_DIGITS, "0")

/**
 * One record as its line, newline included. Throws on a record the schema rejects or that does not
 * fit in a line: callers validate first (see log-rules.ts), so a throw here is a bug.
 */
export const encodeRecordLine = (record: LogRecord): Buffer => {
  // A record the fast path takes is exactly what the schema gives, and its schema transforms
  // nothing (strings, integers, booleans, literals): JSON.stringify writes the Schema encoding's
  // very text without the encode (record-fast-path.property.test.ts compares the bytes).
  const json = Buffer.from(isFastLogRecord(record) ? JSON.stringify(record) : encodeLogRecordJson(record), "utf8")
  if (json.includes(NEWLINE)) throw new Error("invariant: encoded JSON contains a newline")
  const line = Buffer.allocUnsafe(HEADER_BYTES + json.length + 1)
  line.write(hex8(crc32(json)), 0, "latin1")
  line[CHECKSUM_DIGITS] = SPACE
  json.copy(line, HEADER_BYTES)
  line[line.length - 1] = NEWLINE
  if (line.length > MAX_LINE_BYTES) throw new Error(`invariant: record line of ${line.length} bytes exceeds ${MAX_LINE_BYTES}`)
  return line
}

// --- decoding

const DIGIT_0 = 0x30
const DIGIT_9 = 0x39
const LOWER_A = 0x61
const LOWER_F = 0x66

/** The header's 8 lowercase hex digits as a number, or -1 if they are not that (read from the bytes: no string, no regex). */
const headerChecksum = (line: Uint8Array): number => {
  let value = 0
  for (let i = 0; i < CHECKSUM_DIGITS; i++) {
    const c = line[i]!
    const digit = c >= DIGIT_0 && c <= DIGIT_9 ? c - DIGIT_0 : c >= LOWER_A && c <= LOWER_F ? c - LOWER_A + 10 : -1
    if (digit < 0) return -1
    value = value * 16 + digit
  }
  return value
}

const fail = (reason: LineFailureReason, detail: string): Result.Result<never, LineFailure> =>
  Result.fail({ reason, detail })

/**
 * Decodes one line WITHOUT its trailing newline. Checks size, checksum, UTF-8, JSON and schema, in
 * that order, so garbage costs a CRC and never a JSON.parse. The sequence is the scanner's business
 * (see `checkSequence`).
 *
 * Line by line, not a chunk of lines at once: decoding a whole chunk turns it into a two-byte
 * string as soon as one line holds a non-ASCII character, and JSON.parse of its slices was slower
 * than a strict decode per line (measured on bench/replay.bench.ts's log).
 */
export const decodeRecordLine = (line: Uint8Array): Result.Result<LogRecord, LineFailure> => {
  if (line.length + 1 > MAX_LINE_BYTES) return fail("oversize", `line of ${line.length + 1} bytes`)
  if (line.length < HEADER_BYTES + 2 || line[CHECKSUM_DIGITS] !== SPACE) return fail("checksum", "no checksum header")
  const expected = headerChecksum(line)
  if (expected < 0) return fail("checksum", "malformed checksum header")
  const json = line.subarray(HEADER_BYTES)
  const actual = crc32(json)
  if (actual !== expected) return fail("checksum", `crc32 ${hex8(actual)} != ${hex8(expected)}`)

  let text: string
  try {
    text = strictUtf8.decode(json)
  } catch {
    return fail("json", "not UTF-8")
  }
  // JSON.parse, then the schema on the parsed value: a third faster than Schema.fromJsonString,
  // which runs the same two steps through its effect machinery (bench/replay.bench.ts).
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return fail("json", "not JSON")
  }
  // The common kinds are checked by hand, as the schema would; the rest by the schema (record-fast-path.ts).
  if (isFastLogRecord(parsed)) return Result.succeed(parsed)
  const decoded = decodeLogRecord(parsed)
  return Result.isSuccess(decoded) ? Result.succeed(decoded.success) : fail("schema", decoded.failure.message.slice(0, 300))
}

/**
 * `seq` must follow `previousSeq` by exactly one; across bytes that were found corrupt
 * (`acrossCorruption`) a gap is tolerated, since those bytes may have held records, but the
 * sequence still has to grow.
 */
export const checkSequence = (
  record: LogRecord,
  previousSeq: number,
  acrossCorruption: boolean,
): LineFailure | undefined => {
  if (record.seq === previousSeq + 1) return undefined
  if (acrossCorruption && record.seq > previousSeq) return undefined
  return { reason: "sequence", detail: `seq ${record.seq} after ${previousSeq}` }
}

/**
 * Big profiles for the start-up benches, written straight to disk: the log's lines with the record
 * codec (no service, no fsync per batch), the state folded by the real `evolve` as they are made,
 * and the snapshot the chat would write after the last record (snapshot-file.ts, through the same
 * `snapshotContents` the file log uses). One conversation of `count` messages, half mine, half the
 * peer's, spread over 30 days; the first record is a profile from before signing (no keys), so
 * the chat's first launch creates the identity file for it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Schema } from "effect"
import { HistoryIndex } from "../adapters/storage/conversation-index.ts"
import { LOG_FILE } from "../adapters/storage/file-event-log.ts"
import { snapshotContents } from "../adapters/storage/log-snapshot.ts"
import { crc32, encodeRecordLine } from "../adapters/storage/record-codec.ts"
import { writeSnapshot } from "../adapters/storage/snapshot-file.ts"
import { evolve, initialChatState } from "../domain/chat/chat-state.ts"
import { LogRecord } from "../domain/events.ts"
import { topics, type UserId } from "../domain/ids.ts"
import { encodeFoldedProfile } from "../domain/snapshot/state-codec.ts"

export const ME = "user-10001" as UserId
export const PEER = "user-20002" as UserId
export const TOPIC = topics.talk(ME, PEER)
const SPREAD_MS = 30 * 24 * 60 * 60 * 1000
/** Lines are checked against the codec's own encoding for this many records, then framed directly. */
const CHECKED_RECORDS = 2_000
const WRITE_BATCH_BYTES = 8 * 1024 * 1024

const decodeRecord = Schema.decodeUnknownSync(LogRecord)

/** Record `seq` (2 and up: 1 is the profile) as plain JSON data. */
const recordData = (seq: number, count: number, start: number) => {
  const n = seq - 2
  const at = start + Math.floor((n / count) * SPREAD_MS)
  const id = `bench${String(n).padStart(10, "0")}`
  const text = `message ${n}: ${"lorem ipsum dolor sit amet ".repeat(1 + (n % 4))}`.trim()
  return n % 2 === 0
    ? { seq, at, clock: seq, event: { _tag: "message.sent", id, topic: TOPIC, text, n: n / 2 + 1 }, out: [] }
    : { seq, at, clock: seq, event: { _tag: "message.received", id, from: PEER, topic: TOPIC, text, sentAt: at, sentClock: seq, n: (n + 1) / 2 }, out: [] }
}

/** The line the codec writes for `data`: crc32 of the JSON, a space, the JSON, a newline. */
const frame = (json: string): Buffer => {
  const body = Buffer.from(json, "utf8")
  return Buffer.concat([Buffer.from(`${crc32(body).toString(16).padStart(8, "0")} `, "latin1"), body, Buffer.from("\n")])
}

export interface WrittenProfile {
  readonly dir: string
  readonly records: number
  readonly logBytes: number
  readonly snapshotBytes: number
  readonly ms: number
}

/**
 * Writes `dir`/events.log with a profile record and `count` messages, and `dir`/`snapshotName`
 * (events.snapshot unless told) with the state after the last one.
 */
export const writeMessageProfile = async (dir: string, count: number, snapshotName?: string): Promise<WrittenProfile> => {
  const started = performance.now()
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const start = Date.now() - SPREAD_MS
  const fd = fs.openSync(path.join(dir, LOG_FILE), "w", 0o600)
  const index = new HistoryIndex()
  let state = initialChatState()
  let offset = 0
  let pending: Array<Buffer> = []
  let pendingBytes = 0
  let last = { seq: 0, offset: 0, length: 0, ordinal: 0 }
  let lastLineCrc = 0
  const flush = () => {
    fs.writeSync(fd, Buffer.concat(pending))
    pending = []
    pendingBytes = 0
  }
  try {
    // Bounded: count + 1 records.
    for (let seq = 1; seq <= count + 1; seq++) {
      const data = seq === 1 ? { seq, at: start, clock: 1, event: { _tag: "profile.created", user: ME }, out: [] } : recordData(seq, count, start)
      // Past the first records (decoded, and framed both ways to check), the data is this file's own: typed as it is made.
      const record: LogRecord = seq <= CHECKED_RECORDS ? decodeRecord(data) : (data as unknown as LogRecord)
      let line: Buffer
      if (seq <= CHECKED_RECORDS) {
        line = encodeRecordLine(record)
        if (!line.equals(frame(JSON.stringify(data)))) throw new Error(`bench: the direct framing of record ${seq} differs from the codec's`)
      } else {
        line = frame(JSON.stringify(data))
      }
      state = evolve(state, record)
      if (record.event._tag === "message.sent" || record.event._tag === "message.received") index.add(TOPIC, { seq, offset, length: line.length })
      last = { seq, offset, length: line.length, ordinal: seq }
      if (seq === count + 1) lastLineCrc = crc32(line)
      offset += line.length
      pending.push(line)
      pendingBytes += line.length
      if (pendingBytes >= WRITE_BATCH_BYTES) flush()
    }
    flush()
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  const contents = snapshotContents(last, lastLineCrc, [], index, encodeFoldedProfile({ state, createdKeys: null }))
  const snapshotBytes = await writeSnapshot(dir, contents)
  if (snapshotName !== undefined) fs.renameSync(path.join(dir, "events.snapshot"), path.join(dir, snapshotName))
  return { dir, records: count + 1, logBytes: offset, snapshotBytes, ms: performance.now() - started }
}

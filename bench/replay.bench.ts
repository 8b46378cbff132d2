/**
 * A full state rebuild from a 1,000,000-record log, side by side with the plain reads of the same
 * file (1 MiB chunks, a manual split: the fastest plain read). The target (issues 9 and 11): the
 * rebuild at >= 50% of the speed of read + JSON.parse.
 *
 * The log is generated once, bounded, into a temp dir that is removed at the end: a simulated
 * user's log (8 real chat services in the simulation world: presence, negotiations, groups and chat as the
 * simulator mixes them) is the template, repeated until it holds RECORDS records, each round with
 * fresh seqs, clocks, times, ids and protocol numbers so that every round changes the state as the
 * first did. The rounds are framed from JSON.stringify, which writes the codec's very bytes
 * (encodeRecordLine is compared on every template record) at a fraction of the time; every row
 * below that decodes checks that all RECORDS lines decode. Rows, each the best of TRIES runs,
 * interleaved so a busy machine slows all of them alike:
 *   read + split       the bytes and their line ends, nothing decoded
 *   read + JSON.parse  the baseline: every line's JSON parsed
 *   decode             the tool's read-only reader: + checksum, UTF-8, schema, sequence
 *   rebuild            decode + evolve of every record: the full state, what `replay state` folds
 *   replay check       the `check` command as the terminal runs it (output counted, not printed)
 * Speed is given as a share of the baseline's, in CPU time (the fairer ratio on a shared machine)
 * and in wall time; RSS after each row, and the process's peak.
 * Run: npm run bench -- replay   or   npx tsx bench/replay.bench.ts [--records N]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { Result } from "effect"
import { crc32, decodeRecordLine, encodeRecordLine } from "../adapters/storage/record-codec.ts"
import { check, EXIT_OK, type Output } from "../apps/replay/commands.ts"
import { LogReader } from "../apps/replay/log-reader.ts"
import { DEFAULT_SIM_OPTIONS } from "../apps/sim/options.ts"
import { simulate } from "../apps/sim/simulation.ts"
import { formatNumber, renderTable, type Cell } from "../apps/sim/text-table.ts"
import { evolve, initialChatState } from "../domain/chat/chat-state.ts"
import type { DomainEvent, LogRecord, Outgoing } from "../domain/events.ts"
import type { MessageId } from "../domain/ids.ts"

const recordsArgument = (): number => {
  const index = process.argv.indexOf("--records")
  const value = index >= 0 ? Number(process.argv[index + 1]) : 1_000_000
  if (!Number.isInteger(value) || value < 1000 || value > 5_000_000) throw new Error("--records takes 1000..5000000")
  return value
}
const RECORDS = recordsArgument()
const TRIES = 3
const READ_CHUNK = 1024 * 1024
const WRITE_CHUNK = 4 * 1024 * 1024

const log = (text: string): void => {
  process.stderr.write(`${text}\n`)
}

// --- the log

const renamed = (id: string, round: number): MessageId => (round === 0 ? id : `${id}r${round}`) as MessageId

/** Numbers the protocol compares (sessions, attempts, message numbers) grow by this much a round. */
const ROUND_NUMBERS = 100_000

/**
 * A template record moved to round `round`: later seq, clock and time, ids of its own, and later
 * sessions, attempts, message numbers and group foundings, so that each round changes the state
 * as the first did (a repeated presence or stance with the same numbers would change nothing: the
 * chat never logs such a record).
 */
const shifted = (record: LogRecord, seq: number, round: number, dClock: number, dAt: number): LogRecord => {
  const event = record.event as DomainEvent & Record<string, unknown>
  const moved: Record<string, unknown> = { ...event }
  const dNumber = round * ROUND_NUMBERS
  if (typeof event.id === "string") moved.id = renamed(event.id, round)
  if (typeof event.requestId === "string") moved.requestId = renamed(event.requestId, round)
  if (Array.isArray(event.ids)) moved.ids = (event.ids as ReadonlyArray<string>).map((id) => renamed(id, round))
  if (typeof event.sentClock === "number") moved.sentClock = event.sentClock + dClock
  if (typeof event.sentAt === "number") moved.sentAt = event.sentAt + dAt
  for (const field of ["session", "attempt", "n"] as const) if (typeof event[field] === "number") moved[field] = (event[field] as number) + dNumber
  if (typeof event.refuses === "number" && event.refuses > 0) moved.refuses = event.refuses + dNumber
  if (Array.isArray(event.missing)) moved.missing = (event.missing as ReadonlyArray<number>).map((n) => n + dNumber)
  const info = event.info as { foundedClock: number } | undefined
  if (info !== undefined) moved.info = { ...info, foundedClock: info.foundedClock + dClock }
  const out = record.out.map((o): Outgoing => ({ ...o, envelope: { ...o.envelope, id: renamed(o.envelope.id, round), clock: o.envelope.clock + dClock, ts: o.envelope.ts + dAt } }))
  return { seq, at: record.at + dAt, clock: record.clock + dClock, event: moved as DomainEvent, out }
}

interface Built {
  readonly file: string
  readonly bytes: number
  readonly mix: string
}

/** A record's line as the codec frames it, from JSON.stringify: valid where the schema's encoding is the identity (checked on the template). */
const framedJson = (record: LogRecord): Buffer => {
  const json = Buffer.from(JSON.stringify(record), "utf8")
  const line = Buffer.allocUnsafe(json.length + 10)
  line.write(crc32(json).toString(16).padStart(8, "0"), 0, "latin1")
  line[8] = 0x20
  json.copy(line, 9)
  line[line.length - 1] = 0x0a
  return line
}

const buildLog = async (dir: string): Promise<Built> => {
  const simulating = performance.now()
  // Real services in the simulation world: a few thousand records, repeated up to RECORDS.
  const { users } = await simulate({ ...DEFAULT_SIM_OPTIONS, users: 8, steps: 6_000, timing: false })
  const template = users[0]!.log
  log(`  simulated the template (${formatNumber(template.length)} records) in ${formatNumber((performance.now() - simulating) / 1000, 1)} s`)
  for (const record of template) {
    if (!encodeRecordLine(record).equals(framedJson(record))) throw new Error(`record ${record.seq}: the codec writes other bytes than JSON.stringify`)
  }
  const span = { clock: template.at(-1)!.clock + 1, at: template.at(-1)!.at - template[0]!.at + 1000 }
  const file = path.join(dir, "events.log")
  const fd = fs.openSync(file, "w")
  const tags = new Map<string, number>()
  let pending: Array<Buffer> = []
  let pendingBytes = 0
  let bytes = 0
  let seq = 0
  try {
    // Each round adds the template's records (the profile record once): at most RECORDS records.
    for (let round = 0; seq < RECORDS; round++) {
      for (const record of template) {
        if (seq >= RECORDS) break
        if (round > 0 && record.event._tag === "profile.created") continue
        seq += 1
        const line = framedJson(shifted(record, seq, round, round * span.clock, round * span.at))
        tags.set(record.event._tag, (tags.get(record.event._tag) ?? 0) + 1)
        pending.push(line)
        pendingBytes += line.length
        if (pendingBytes >= WRITE_CHUNK) {
          fs.writeSync(fd, Buffer.concat(pending))
          bytes += pendingBytes
          pending = []
          pendingBytes = 0
        }
      }
    }
    fs.writeSync(fd, Buffer.concat(pending))
    bytes += pendingBytes
  } finally {
    fs.closeSync(fd)
  }
  // The framing is the file log's own: a line the codec refuses would make the comparison meaningless.
  const sample = fs.readFileSync(file).subarray(0, 64 * 1024)
  const firstLine = sample.subarray(0, sample.indexOf(0x0a))
  if (Result.isFailure(decodeRecordLine(firstLine))) throw new Error("the generated log does not decode")
  const top = [...tags].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([tag, count]) => `${tag} ${formatNumber((100 * count) / RECORDS, 0)}%`)
  return { file, bytes, mix: top.join(", ") }
}

// --- the measured reads

/** Read + split: every line end found in the bytes, nothing decoded (the floor of any reader). */
const readSplit = (file: string): number => {
  const fd = fs.openSync(file, "r")
  const buffer = Buffer.allocUnsafe(READ_CHUNK)
  let count = 0
  try {
    // Each turn reads a chunk: bounded by the file.
    for (let read = fs.readSync(fd, buffer, 0, READ_CHUNK, null); read > 0; read = fs.readSync(fd, buffer, 0, READ_CHUNK, null)) {
      // Each turn finds one line end: bounded by the chunk.
      for (let end = buffer.indexOf(0x0a, 0); end >= 0 && end < read; end = buffer.indexOf(0x0a, end + 1)) count += 1
    }
  } finally {
    fs.closeSync(fd)
  }
  return count
}

/** Read + split + JSON.parse of each line's JSON (after the 9-byte checksum header): the baseline. */
const readParse = (file: string): number => {
  const fd = fs.openSync(file, "r")
  const buffer = Buffer.allocUnsafe(READ_CHUNK)
  let carry = ""
  let count = 0
  try {
    // Each turn reads a chunk: bounded by the file.
    for (let read = fs.readSync(fd, buffer, 0, READ_CHUNK, null); read > 0; read = fs.readSync(fd, buffer, 0, READ_CHUNK, null)) {
      const text = carry + buffer.toString("utf8", 0, read)
      let start = 0
      for (let end = text.indexOf("\n", start); end >= 0; end = text.indexOf("\n", start)) {
        count += (JSON.parse(text.slice(start + 9, end)) as { seq: number }).seq > 0 ? 1 : 0
        start = end + 1
      }
      carry = text.slice(start)
    }
  } finally {
    fs.closeSync(fd)
  }
  return count
}

const decodeOnly = (file: string): number => {
  const reader = new LogReader(file)
  let count = 0
  try {
    for (let scanned = reader.next(); scanned !== undefined; scanned = reader.next()) count += 1
  } finally {
    reader.close()
  }
  return count
}

const rebuild = (file: string): number => {
  const reader = new LogReader(file)
  let state = initialChatState()
  try {
    for (let scanned = reader.next(); scanned !== undefined; scanned = reader.next()) state = evolve(state, scanned.record)
  } finally {
    reader.close()
  }
  return state.lastSeq
}

/** `replay check` with its lines counted instead of printed; says RECORDS when the log is OK. */
const replayCheck = (file: string): number => {
  let lines = 0
  const out: Output = { line: () => void (lines += 1), note: (text) => log(`  check: ${text}`) }
  const code = check(file, out)
  return code === EXIT_OK && lines > 0 ? RECORDS : -code
}

interface Timing {
  readonly wallMs: number
  readonly cpuMs: number
  readonly rssMb: number
}

const timed = (name: string, body: () => number, expect: number): Timing => {
  const cpu = process.cpuUsage()
  const start = performance.now()
  const result = body()
  const wallMs = performance.now() - start
  const used = process.cpuUsage(cpu)
  if (result !== expect) throw new Error(`${name}: got ${result}, expected ${expect}`)
  log(`  ${name}: ${formatNumber(wallMs / 1000, 1)} s`)
  return { wallMs, cpuMs: (used.user + used.system) / 1000, rssMb: process.memoryUsage().rss / 1e6 }
}

const ROWS = [
  { name: "read + split", body: readSplit },
  { name: "read + JSON.parse (baseline)", body: readParse },
  { name: "decode: + checksum, UTF-8, schema, sequence", body: decodeOnly },
  { name: "rebuild: decode + evolve (full state)", body: rebuild },
  { name: "replay check", body: replayCheck },
] as const
const BASELINE = 1
const REBUILD = 3

const main = async (): Promise<void> => {
  const started = performance.now()
  const load = os.loadavg()
  console.log(`replay bench: node ${process.version}, ${os.cpus()[0]?.model ?? "cpu?"} ×${os.cpus().length}, load ${load.map((l) => l.toFixed(1)).join(" ")} at the start`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "replay-bench-"))
  try {
    log(`replay bench: building a simulated user's log (presence, negotiations, groups, chat), ${formatNumber(RECORDS)} records…`)
    const built = await buildLog(dir)
    const buildMs = performance.now() - started
    const best = ROWS.map(() => ({ wallMs: Infinity, cpuMs: Infinity, rssMb: 0 }))
    for (let t = 0; t < TRIES; t++) {
      log(`run ${t + 1} of ${TRIES}`)
      ROWS.forEach((row, i) => {
        const timing = timed(row.name, () => row.body(built.file), RECORDS)
        const b = best[i]!
        b.wallMs = Math.min(b.wallMs, timing.wallMs)
        b.cpuMs = Math.min(b.cpuMs, timing.cpuMs)
        b.rssMb = Math.max(b.rssMb, timing.rssMb)
      })
    }
    const base = best[BASELINE]!
    const table: Array<Array<Cell>> = ROWS.map((row, i) => {
      const b = best[i]!
      return [row.name, formatNumber(b.wallMs, 0), formatNumber(b.cpuMs, 0), `${formatNumber((RECORDS * 1000) / b.cpuMs, 0)}/s`, `${formatNumber((100 * base.cpuMs) / b.cpuMs, 0)}%`, `${formatNumber((100 * base.wallMs) / b.wallMs, 0)}%`, formatNumber(b.rssMb, 0)]
    })
    console.log(`\n${formatNumber(RECORDS)} records, ${formatNumber(built.bytes / 1e6, 0)} MB (${formatNumber(built.bytes / RECORDS, 0)} bytes a record; ${built.mix}); built in ${formatNumber(buildMs / 1000, 1)} s`)
    console.log(renderTable(table, { title: `best of ${TRIES}, interleaved; speed as a share of the baseline's (target for rebuild: >= 50%)`, headers: ["path", "wall ms", "cpu ms", "records/s (cpu)", "vs baseline (cpu)", "vs baseline (wall)", "RSS MB after"] }))
    const rebuilt = best[REBUILD]!
    const share = base.cpuMs / rebuilt.cpuMs
    console.log(`rebuild at ${formatNumber(100 * share, 0)}% of the baseline's speed in CPU time (${formatNumber((100 * base.wallMs) / rebuilt.wallMs, 0)}% in wall time): ${share >= 0.5 ? "meets" : "MISSES"} the 50% target`)
    console.log(`peak RSS ${formatNumber(process.resourceUsage().maxRSS / 1024, 0)} MB; load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")} at the end; bench done in ${formatNumber((performance.now() - started) / 1000, 1)} s`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

try {
  await main()
} catch (error) {
  console.error(`replay bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  process.exit(1)
}

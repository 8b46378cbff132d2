/**
 * Child process of the kill -9 test (tests/contracts/event-log.file.test.ts): opens the file log in
 * `process.argv[2]` and appends from several fibers until killed, printing each record's seq once
 * its append has resolved, i.e. once the log says it is durable. Some records are large, so that a
 * kill lands in the middle of a write now and then.
 */
import { Effect } from "effect"
import { FileEventLog } from "../../adapters/storage/file-event-log.ts"
import { EventLog } from "../../domain/ports/event-log.port.ts"
import { ALICE_BOB, messageEntry } from "./log-fixtures.ts"

const WRITERS = 16
/** Far more than a test waits for: the parent kills the child long before. */
const MAX_APPENDS_PER_WRITER = 1_000_000

const dir = process.argv[2]
if (dir === undefined) throw new Error("usage: log-append-child.ts <profile dir>")

const writer = (log: EventLog["Service"], id: number) =>
  Effect.gen(function*() {
    for (let n = 0; n < MAX_APPENDS_PER_WRITER; n++) {
      const size = (n * 997 + id * 131) % 4000
      // Control characters are stored escaped (six bytes each): records of up to ~24 KB.
      const text = (n % 3 === 0 ? "\u0001" : "x").repeat(size)
      const records = yield* log.append([messageEntry(ALICE_BOB, n * WRITERS + id, text)])
      // A pipe is written synchronously on Linux: once this returns, the parent can read it.
      for (const record of records) process.stdout.write(`${record.seq}\n`)
    }
  })

const program = Effect.gen(function*() {
  const log = yield* EventLog
  process.stdout.write(`ready ${yield* log.lastSeq}\n`)
  yield* Effect.all(Array.from({ length: WRITERS }, (_, id) => writer(log, id)), { concurrency: "unbounded" })
})

Effect.runPromise(Effect.provide(program, FileEventLog.layer({ dir }))).catch((error: unknown) => {
  process.stderr.write(`log-append-child failed: ${String(error)}\n`)
  process.exit(1)
})

/**
 * One measurement of bench/startup.bench.ts, in a process of its own (a clean heap for its RSS):
 *
 *   open <dir>   — open the profile as the chat does (FileEventLog, then the Profile: snapshot and
 *                  tail, or the whole log), then the conversation's newest 100 messages;
 *   json <dir>   — the baseline: read events.log in 1 MiB chunks and JSON.parse every record;
 *   idle <dir>   — the baseline of memory: this process, its modules loaded, doing nothing.
 *
 * Prints one JSON line: { ms, historyMs?, rss, detail }. Times are in-process (the process start
 * and module loading are not in them: the terminal rows of the bench measure those).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { FileEventLog, LOG_FILE } from "../adapters/storage/file-event-log.ts"
import { FileIdentityStore } from "../adapters/storage/identity-file.ts"
import { NodeCrypto } from "../adapters/system/node-crypto.ts"
import { SystemClock, SystemIds } from "../adapters/system/system.ts"
import { EventLog } from "../domain/ports/event-log.port.ts"
import { Profile } from "../domain/service/profile.ts"
import { TOPIC } from "./startup-profiles.ts"

const HISTORY_PAGE = 100
const CHUNK_BYTES = 1024 * 1024

const openProfile = async (dir: string) => {
  const scope = await Effect.runPromise(Scope.make())
  const started = performance.now()
  const layer = Profile.layer.pipe(Layer.provideMerge(Layer.mergeAll(
    FileEventLog.layer({ dir }),
    SystemClock.layer,
    SystemIds.layer,
    NodeCrypto.layer,
    FileIdentityStore.layer({ dir }),
  )))
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const ms = performance.now() - started
  const profile = Context.get(context, Profile)
  const log = Context.get(context, EventLog)
  const historyStarted = performance.now()
  const page = await Effect.runPromise(log.history(TOPIC, { limit: HISTORY_PAGE }))
  const historyMs = performance.now() - historyStarted
  if (page.records.length !== Math.min(HISTORY_PAGE, profile.restored.topics.get(TOPIC)?.messages ?? 0)) throw new Error(`history: ${page.records.length} records`)
  const rss = process.memoryUsage().rss
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return { ms, historyMs, rss, detail: `${profile.restoredFrom}; snapshot ${log.snapshotStatus._tag}` }
}

/** The least a full start could do: every record's JSON parsed once. */
const parseLog = (dir: string) => {
  const started = performance.now()
  const fd = fs.openSync(path.join(dir, LOG_FILE), "r")
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES)
  let carry = ""
  let records = 0
  let position = 0
  try {
    // Each turn reads a chunk or ends: bounded by the file's size.
    for (;;) {
      const read = fs.readSync(fd, buffer, 0, CHUNK_BYTES, position)
      if (read === 0) break
      position += read
      const lines = (carry + buffer.toString("utf8", 0, read)).split("\n")
      carry = lines.pop() ?? ""
      for (const line of lines) {
        JSON.parse(line.slice(9))
        records++
      }
    }
  } finally {
    fs.closeSync(fd)
  }
  return { ms: performance.now() - started, rss: process.memoryUsage().rss, detail: `${records} records parsed` }
}

const [mode, dir] = process.argv.slice(2)
if (dir === undefined || (mode !== "open" && mode !== "json" && mode !== "idle")) throw new Error("usage: startup-open.child.ts open|json|idle <profile dir>")
const result = mode === "open" ? await openProfile(dir) : mode === "json" ? parseLog(dir) : { ms: 0, rss: process.memoryUsage().rss, detail: "modules loaded" }
process.stdout.write(`${JSON.stringify(result)}\n`)

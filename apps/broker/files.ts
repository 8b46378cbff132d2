/**
 * Where the local broker keeps its things, all under DATA_DIR/broker/:
 *
 *   store/       the LevelDB store: sessions, subscriptions, offline queues, retained messages, Wills
 *   broker.pid   the lock: created with O_EXCL, holds the broker's pid (one broker per data directory)
 *   broker.json  where it listens, written once it accepts connections, removed when it stops
 *   broker.log   its log (and its stdout/stderr), rotated to broker.log.1 past 5 MiB
 *
 * Every file is read through a bound and decoded (broker.json with a Schema); a damaged one counts
 * as absent, never as a crash.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Result, Schema } from "effect"

export interface BrokerFiles {
  readonly dataDir: string
  readonly dir: string
  readonly store: string
  readonly pidFile: string
  readonly stateFile: string
  readonly logFile: string
}

export const brokerFiles = (dataDir: string): BrokerFiles => {
  const dir = path.join(dataDir, "broker")
  return {
    dataDir,
    dir,
    store: path.join(dir, "store"),
    pidFile: path.join(dir, "broker.pid"),
    stateFile: path.join(dir, "broker.json"),
    logFile: path.join(dir, "broker.log"),
  }
}

const Port = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))

/** broker.json: what `status` prints and what a chat connects to. */
export const BrokerState = Schema.Struct({
  pid: Schema.Int.check(Schema.isGreaterThan(0)),
  port: Port,
  url: Schema.String,
  store: Schema.String,
  log: Schema.String,
  passwordFile: Schema.NullOr(Schema.String),
  startedAt: Schema.String,
  version: Schema.String,
})
export type BrokerState = typeof BrokerState.Type

const MAX_STATE_BYTES = 8_192
const decodeState = Schema.decodeUnknownResult(Schema.fromJsonString(BrokerState))

const code = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code

/** The state file, or null when it is missing, too large or damaged. */
export const readState = (files: BrokerFiles): BrokerState | null => {
  let text: string
  try {
    if (fs.statSync(files.stateFile).size > MAX_STATE_BYTES) return null
    text = fs.readFileSync(files.stateFile, "utf8")
  } catch {
    return null
  }
  const decoded = decodeState(text)
  return Result.isSuccess(decoded) ? decoded.success : null
}

/** Replaces `file` with `text` in one step (a reader sees the old or the new file, never half). */
export const writeAtomically = (file: string, text: string): void => {
  const temporary = `${file}.${process.pid}.tmp`
  fs.writeFileSync(temporary, text, { mode: 0o600 })
  fs.renameSync(temporary, file)
}

export const writeState = (files: BrokerFiles, state: BrokerState): void => writeAtomically(files.stateFile, `${JSON.stringify(state, null, 2)}\n`)

/** Removes the state file if it still describes `pid` (a successor's must stay). */
export const removeState = (files: BrokerFiles, pid: number): void => {
  if (readState(files)?.pid !== pid) return
  try {
    fs.unlinkSync(files.stateFile)
  } catch (error) {
    if (code(error) !== "ENOENT") throw error
  }
}

/** The pid in the pid file, or null (missing, empty, damaged). */
export const pidInFile = (file: string): number | null => {
  try {
    const text = fs.readFileSync(file, "utf8").slice(0, 32).trim()
    const pid = Number(text)
    return /^[0-9]{1,10}$/.test(text) && Number.isSafeInteger(pid) && pid > 0 ? pid : null
  } catch {
    return null
  }
}

/** Whether `pid` runs: it exists and, where /proc tells, is not a zombie waiting for its parent. */
export const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if (code(error) !== "EPERM") return false
  }
  try {
    // "PID (name) STATE …": the name may hold spaces and parentheses, the state follows the last ")".
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return true
  }
}

/**
 * Whether `pid` is the broker of `dataDir`: alive, and — where /proc tells (Linux) — running our
 * broker on that directory, so a pid reused by another program after a kill -9 is not mistaken
 * for the broker (nor signalled by `stop`).
 */
export const isBrokerProcess = (pid: number, dataDir: string): boolean => {
  if (!isRunning(pid)) return false
  let commandLine: string
  try {
    commandLine = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")
  } catch {
    // No /proc (macOS): an alive pid is taken at its word.
    return true
  }
  // `node …broker… run [--data-dir DIR] …`: `start` always passes the directory, a broker run by hand may not.
  const args = commandLine.split("\0")
  const dirAt = args.indexOf("--data-dir")
  const dir = dirAt >= 0 ? args[dirAt + 1] : undefined
  return args.includes("run") && args.some((arg) => arg.includes("broker")) && (dir === undefined || path.resolve(dir) === dataDir)
}

/** LevelDB's file names: what an older version kept directly in DATA_DIR/broker. */
const LEVELDB_FILE = /^(CURRENT|LOCK|LOG|LOG\.old|MANIFEST-[0-9]+|[0-9]+\.(ldb|log|sst))$/

/**
 * Moves a store of the earlier layout (LevelDB files directly in DATA_DIR/broker, from when the
 * chat hosted the broker) into store/, so the sessions and queued messages in it are kept.
 * Runs under the lock, before the store is opened. Returns how many files were moved.
 */
export const migrateEarlierStore = (files: BrokerFiles): number => {
  if (!fs.existsSync(path.join(files.dir, "CURRENT")) || fs.existsSync(files.store)) return 0
  fs.mkdirSync(files.store, { mode: 0o700 })
  let moved = 0
  for (const name of fs.readdirSync(files.dir)) {
    if (!LEVELDB_FILE.test(name)) continue
    fs.renameSync(path.join(files.dir, name), path.join(files.store, name))
    moved += 1
  }
  return moved
}

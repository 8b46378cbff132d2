/**
 * The local broker process (`npm run broker -- run`, which `start` runs detached): the embedded
 * aedes broker on 127.0.0.1 with its LevelDB store under DATA_DIR/broker, as a process of its own
 * that outlives every chat.
 *
 * One per data directory, by two locks: broker.pid (O_EXCL, a stale pid is taken over) and the
 * LevelDB store's own lock, which the kernel releases when a process dies — so two processes that
 * both took over the same stale pid file still cannot both run; the one that got the store
 * rewrites the pid file if the other overwrote it (checked every tick).
 *
 * It stops on SIGTERM, SIGINT or SIGHUP (publishing the Wills of those still connected, as
 * Mosquitto does), and by itself when DATA_DIR/broker disappears (a test's temporary directory
 * removed) or, only when asked (`idleExitMs`, for tests), after that long without any client.
 */
import * as fs from "node:fs"
import { startEmbeddedBroker, type EmbeddedBroker } from "../../adapters/broker/embedded-broker.ts"
import { releaseLock, takeLock } from "../../adapters/storage/file-lock.ts"
import { DiagnosticsLog } from "../chat/diagnostics-log.ts"
import { EXIT_ALREADY_RUNNING, EXIT_FAILED, EXIT_STOPPED, FAILURE_PREFIX } from "./exits.ts"
import { brokerFiles, isBrokerProcess, migrateEarlierStore, pidInFile, removeState, writeAtomically, writeState, type BrokerFiles, type BrokerState } from "./files.ts"


const TICK_MS = 1_000
const CLOSE_TIMEOUT_MS = 5_000

export interface DaemonOptions {
  readonly dataDir: string
  readonly port: number
  readonly passwordFile: string | null
  /** Stop after this long without a connected client; null: never (the default). */
  readonly idleExitMs: number | null
  readonly version: string
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))
const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code
const storeLocked = (error: unknown): boolean => errorCode((error as { cause?: unknown } | undefined)?.cause) === "LEVEL_LOCKED"

const failure = (line: string, code: number): number => {
  process.stderr.write(`${FAILURE_PREFIX}${line}\n`)
  return code
}

/** Starts the broker under the lock; the exit code when it could not. */
const startUnderLock = async (options: DaemonOptions, files: BrokerFiles, log: DiagnosticsLog): Promise<EmbeddedBroker | number> => {
  const moved = migrateEarlierStore(files)
  if (moved > 0) log.write(`moved the store of the earlier layout (${moved} files) into ${files.store}`)
  try {
    return await startEmbeddedBroker({
      port: options.port,
      host: "127.0.0.1",
      persistenceDir: files.store,
      ...(options.passwordFile === null ? {} : { passwordFile: options.passwordFile }),
      onLog: (line) => log.write(line),
    })
  } catch (error) {
    if (errorCode(error) === "EADDRINUSE") return failure(`port ${options.port} on 127.0.0.1 is in use by another program: stop it, or use another port (npm run broker -- start --port N; the chat: --embedded-port N)`, EXIT_FAILED)
    if (storeLocked(error)) return failure(`another broker holds the store ${files.store}`, EXIT_ALREADY_RUNNING)
    return failure(`cannot start on port ${options.port} (store ${files.store}): ${describe(error)}`, EXIT_FAILED)
  }
}

/**
 * Takes broker.pid: a pid file naming a live process that is not a broker of this directory (its
 * pid reused after a kill -9) is stale too. Null when taken; else the exit code.
 */
const takePidFile = (files: BrokerFiles, dataDir: string, log: DiagnosticsLog): number | null => {
  const named = pidInFile(files.pidFile)
  let stale: number | undefined
  if (named !== null && named !== process.pid && !isBrokerProcess(named, dataDir)) {
    fs.rmSync(files.pidFile, { force: true })
    stale = named
  }
  const lock = takeLock(files.pidFile)
  if (lock.kind === "held") return failure(`a broker already runs for ${dataDir}${lock.owner === undefined ? "" : ` (pid ${lock.owner})`}`, EXIT_ALREADY_RUNNING)
  stale ??= lock.staleOwner
  if (stale !== undefined) log.write(`took over the pid file of pid ${stale}, which is gone (or is no broker)`)
  return null
}

/** Runs the broker until a signal or a safety net stops it; resolves with the exit code. */
export const runDaemon = async (options: DaemonOptions): Promise<number> => {
  const files = brokerFiles(options.dataDir)
  try {
    fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 })
  } catch (error) {
    return failure(`cannot create ${files.dir}: ${describe(error)}`, EXIT_FAILED)
  }
  const log = new DiagnosticsLog(files.logFile)
  const refused = takePidFile(files, options.dataDir, log)
  if (refused !== null) {
    log.close()
    return refused
  }
  const started = await startUnderLock(options, files, log).catch((error: unknown) => failure(describe(error), EXIT_FAILED))
  if (typeof started === "number") {
    releaseLock(files.pidFile)
    log.close()
    return started
  }
  const state = {
    pid: process.pid,
    port: started.port,
    url: started.url,
    store: files.store,
    log: files.logFile,
    passwordFile: options.passwordFile,
    startedAt: new Date().toISOString(),
    version: options.version,
  }
  log.write(`broker pid ${process.pid} for ${options.dataDir} on ${started.url}${options.passwordFile === null ? "" : ` with the users of ${options.passwordFile}`}${options.idleExitMs === null ? "" : `; stops after ${options.idleExitMs} ms without clients`}`)
  // The start's story is in the log before anyone is told the broker runs.
  log.flush()
  writeState(files, state)
  return serve(started, files, state, options.idleExitMs, log)
}

/** Until a signal or a safety net: the tick's repairs and checks, then a bounded close. */
const serve = (broker: EmbeddedBroker, files: BrokerFiles, state: BrokerState, idleExitMs: number | null, log: DiagnosticsLog): Promise<number> =>
  new Promise<number>((resolve) => {
    let stopping = false
    let idleSince = Date.now()
    const stop = (why: string, code: number): void => {
      if (stopping) return
      stopping = true
      clearInterval(tick)
      log.write(`stopping: ${why}`)
      const timer = setTimeout(() => finish(`the broker did not close within ${CLOSE_TIMEOUT_MS} ms`), CLOSE_TIMEOUT_MS)
      const finish = (note: string | null): void => {
        clearTimeout(timer)
        if (note !== null) log.write(note)
        // The directory may be gone (a safety net): nothing left to tidy then.
        try {
          removeState(files, process.pid)
          releaseLock(files.pidFile)
        } catch {
          // Best effort: a stale pid file is recognised as stale by the next start.
        }
        log.write(`stopped (exit ${code})`)
        log.close()
        resolve(code)
      }
      broker.close().then(
        () => finish(null),
        (error: unknown) => finish(`closing: ${describe(error)}`),
      )
    }
    const tick = setInterval(() => {
      if (!fs.existsSync(files.dir)) return stop(`${files.dir} was removed`, EXIT_STOPPED)
      // Repairs after a lost race on a stale pid file (see the header), and a removed state file.
      try {
        if (pidInFile(files.pidFile) !== process.pid) {
          writeAtomically(files.pidFile, `${process.pid}\n`)
          log.write("pid file rewritten: it did not name this broker")
        }
        if (!fs.existsSync(files.stateFile)) writeState(files, state)
      } catch (error) {
        log.write(`cannot repair the pid or state file: ${describe(error)}`)
      }
      if (broker.connectedClients() > 0) idleSince = Date.now()
      else if (idleExitMs !== null && Date.now() - idleSince >= idleExitMs) stop(`no client for ${idleExitMs} ms`, EXIT_STOPPED)
    }, TICK_MS)
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => stop(signal, EXIT_STOPPED))
    process.on("uncaughtException", (error) => {
      log.write(`uncaught exception: ${error.stack ?? error.message}`)
      stop("internal error", EXIT_FAILED)
    })
  })

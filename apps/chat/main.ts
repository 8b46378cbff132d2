/**
 * The chat client's composition root: options → broker → profile log → service → terminal UI.
 *
 * Failures before the UI exists are one line on stderr and a non-zero exit (2 for usage and for a
 * missing terminal, 1 for everything else); nothing prints a stack trace. Once the UI is up the
 * terminal belongs to it: diagnostics (and any stray console output) go to PROFILE_DIR/chat.log.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Exit, Layer, Result, Scope } from "effect"
import { MqttTransport } from "../../adapters/mqtt/mqtt-transport.ts"
import { MqttUserDirectory } from "../../adapters/mqtt/user-directory.ts"
import { NodeCrypto } from "../../adapters/system/node-crypto.ts"
import { FileIdentityStore } from "../../adapters/storage/identity-file.ts"
import { FileEventLog } from "../../adapters/storage/file-event-log.ts"
import { SystemClock, SystemIds } from "../../adapters/system/system.ts"
import { bridgeChatService } from "../../adapters/tui/chat-port.ts"
import { ChatTui } from "../../adapters/tui/chat-tui.ts"
import { createLayout, createScreen } from "../../adapters/tui/layout.ts"
import { counted } from "../../adapters/tui/plural.ts"
import { fileUiStateStore } from "../../adapters/tui/ui-state-store.ts"
import { EventLog, type RecoveryReport } from "../../domain/ports/event-log.port.ts"
import { Transport, type TransportError } from "../../domain/ports/transport.port.ts"
import { ChatService, defaultChatServiceOptions } from "../../domain/service/chat-service.ts"
import { chatServiceLayer } from "../../domain/service/compose.ts"
import { defaultSnapshotOptions } from "../../domain/snapshot/snapshot-writer.ts"
import { Profile } from "../../domain/service/profile.ts"
import { BrokerUnavailable, chooseBroker, LocalBrokerRestart, type BrokerChoice } from "./broker-choice.ts"
import { loadBrokerSecrets, LoginMismatch, loginIds, type BrokerSecrets } from "./credentials.ts"
import { DiagnosticsLog } from "./diagnostics-log.ts"
import { parseOptions, type ChatOptions } from "./options.ts"

const EXIT_OK = 0
const EXIT_FAILURE = 1
const EXIT_USAGE = 2
/** Quitting waits this long at most for the offline announcement and the broker. */
const SHUTDOWN_STEP_TIMEOUT_MS = 4_000

class StartupFailure extends Error {}

const fail = (message: string, code: number): number => {
  process.stderr.write(`mqtt-chat: ${message}\n`)
  return code
}

const withTimeout = <A>(promise: Promise<A>, ms: number): Promise<A | undefined> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      () => {
        clearTimeout(timer)
        resolve(undefined)
      },
    )
  })

/** The one line a failed start deserves, from the error the layers failed with. */
const describeStartFailure = (error: unknown, options: ChatOptions, broker: BrokerChoice, secrets: BrokerSecrets): string => {
  const tagged = error as { readonly _tag?: string; readonly reason?: string; readonly message?: string }
  if (tagged._tag === "EventLogError" && tagged.reason === "locked") return `profile "${options.profile}" is already open: ${tagged.message ?? "another mqtt-chat holds its lock"}`
  if (tagged._tag === "UserDirectoryError") return tagged.message ?? "cannot give the new profile a free user id"
  if (tagged._tag === "EventLogError") return `cannot open the profile's log in ${options.profileDir}: ${tagged.message ?? "unknown error"}`
  if (tagged._tag === "LoginMismatch") return tagged.message ?? "the profile's user id is not the login's username"
  // The broker answered and said no (login, certificate): its words, and where the login came from.
  if (tagged._tag === "TransportError" && tagged.reason === "rejected") {
    const message = tagged.message ?? "the broker refused"
    return secrets.login !== null && message.includes("refused the login") ? `${message} (login from ${secrets.login.source})` : message
  }
  if (tagged._tag === "TransportError") return `cannot reach the MQTT broker at ${broker.url}: ${tagged.message ?? "unknown error"}`
  return `could not start: ${tagged.message ?? String(error)}`
}

const recoveryNotes = (report: RecoveryReport): ReadonlyArray<string> => {
  const notes: string[] = []
  if (report.truncatedTailBytes > 0) notes.push(`the history log ended in a torn write: ${counted(report.truncatedTailBytes, "byte")} ${report.truncatedTailBytes === 1 ? "was" : "were"} cut off (kept in events.quarantine)`)
  if (report.corruptRecords.length > 0) notes.push(`${counted(report.corruptRecords.length, "damaged record")} in the history log ${report.corruptRecords.length === 1 ? "was" : "were"} skipped (kept in events.quarantine; see chat.log)`)
  return notes
}

/** Anything printed by a library while the UI runs would scribble over it: send it to the file. */
const redirectConsole = (diagnostics: DiagnosticsLog): void => {
  const toFile = (level: string) => (...args: unknown[]) => diagnostics.write(`console.${level}: ${args.map((a) => (typeof a === "string" ? a : String(a))).join(" ")}`)
  console.log = toFile("log")
  console.info = toFile("info")
  console.warn = toFile("warn")
  console.error = toFile("error")
  console.debug = toFile("debug")
}

export const main = async (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<number> => {
  const parsed = parseOptions(argv, env)
  if (parsed.kind === "help" || parsed.kind === "version") {
    process.stdout.write(parsed.text)
    return EXIT_OK
  }
  if (parsed.kind === "error") return fail(`${parsed.message} (see --help)`, EXIT_USAGE)
  const options = parsed.options
  if (process.stdin.isTTY !== true || process.stdout.isTTY !== true) {
    return fail("needs an interactive terminal: stdin and stdout must both be a TTY (for scripted runs use npm run sim)", EXIT_USAGE)
  }
  const loaded = loadBrokerSecrets(options, env)
  if (Result.isFailure(loaded)) return fail(loaded.failure, EXIT_FAILURE)
  const secrets = loaded.success

  try {
    fs.mkdirSync(options.profileDir, { recursive: true, mode: 0o700 })
  } catch (error) {
    return fail(`cannot create the profile directory ${options.profileDir}: ${(error as Error).message}`, EXIT_FAILURE)
  }
  const diagnostics = new DiagnosticsLog(path.join(options.profileDir, "chat.log"))
  diagnostics.write(`start: profile ${options.profile} in ${options.profileDir}, pid ${process.pid}`)
  const brokerOptions = {
    brokerUrl: options.brokerUrl,
    brokerSource: options.brokerSource,
    embeddedPort: options.embeddedPort,
    dataDir: options.dataDir,
    embeddedPasswordFile: options.embeddedPasswordFile,
    log: (line: string) => diagnostics.write(line),
  }

  let broker: BrokerChoice
  try {
    broker = await chooseBroker(brokerOptions)
  } catch (error) {
    diagnostics.close()
    return fail(error instanceof BrokerUnavailable ? error.message : `choosing a broker: ${(error as Error).message}`, EXIT_FAILURE)
  }
  diagnostics.write(broker.announcement)

  const scope = Effect.runSync(Scope.make())
  const { login } = secrets
  const ca = secrets.ca === null ? {} : { ca: secrets.ca }
  const layer = chatServiceLayer<TransportError | LoginMismatch>({
    log: FileEventLog.layer({ dir: options.profileDir, onIndexFallback: (reason) => diagnostics.write(reason) }),
    clock: SystemClock.layer,
    // With a login the user id is the username: a new profile takes it, and needs no free id.
    ids: login === null ? SystemIds.layer : loginIds(login.username),
    crypto: NodeCrypto.layer,
    identities: FileIdentityStore.layer({ dir: options.profileDir }),
    ...(login === null ? { directory: MqttUserDirectory.layer({ url: broker.url, ...ca }) } : {}),
    transport: (profile) =>
      login !== null && profile.me !== login.username
        ? Layer.effect(Transport, Effect.fail(new LoginMismatch({ message: `profile "${options.profile}" is ${profile.me}, but the login (${login.source}) is ${login.username}: the broker would file its messages under another user; use that user's own profile (--profile NAME)` })))
        : MqttTransport.layer({
          url: broker.url,
          clientId: profile.me,
          will: profile.willFor,
          ...(login === null ? {} : { username: login.username, password: login.password }),
          ...ca,
          onLog: (line) => diagnostics.write(line),
        }),
    options: { ...defaultChatServiceOptions, requestTimeoutMs: options.requestTimeoutMs },
    snapshots: defaultSnapshotOptions,
  })
  const built = await Effect.runPromiseExit(Layer.buildWithScope(layer, scope))
  if (Exit.isFailure(built)) {
    const error = Exit.findErrorOption(built)
    const message = describeStartFailure(error._tag === "Some" ? error.value : built.cause, options, broker, secrets)
    diagnostics.write(`start failed: ${message}`)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    diagnostics.close()
    return fail(message, EXIT_FAILURE)
  }
  const context = built.value
  const service = Context.get(context, ChatService)
  const profile = Context.get(context, Profile)
  const recovery = Context.get(context, EventLog).recovery
  diagnostics.write(`profile ${options.profile}: ${profile.me}, state restored ${profile.restoredFrom}; recovery ${JSON.stringify(recovery)}`)

  const port = bridgeChatService(service)
  const startupNotes = [
    { text: broker.announcement, level: "info" as const },
    { text: `Profile "${options.profile}" (${options.profileDir}): you are ${profile.me}; ${counted(profile.restored.lastSeq, "log record")} restored${profile.snapshotSeq === null ? "" : " (from a snapshot)"}.`, level: "info" as const },
    ...(login === null ? [] : [{ text: `Logged in to the broker as ${login.username} (from ${login.source}).`, level: "info" as const }]),
    ...recoveryNotes(recovery).map((text) => ({ text, level: "error" as const })),
  ]

  redirectConsole(diagnostics)
  const screen = createScreen({ input: process.stdin, output: process.stdout, title: `mqtt-chat ${profile.me}` })
  const layout = createLayout(screen)
  let quitting = false
  let tui: ChatTui | null = null

  const quit = async (code: number): Promise<void> => {
    if (quitting) return
    quitting = true
    tui?.showHint("quitting: telling the others you are offline…")
    await withTimeout(port.shutdown(), SHUTDOWN_STEP_TIMEOUT_MS)
    tui?.close()
    await withTimeout(Effect.runPromise(Scope.close(scope, Exit.void)), SHUTDOWN_STEP_TIMEOUT_MS)
    screen.destroy()
    diagnostics.write(`exit ${code}`)
    diagnostics.close()
    process.exit(code)
  }

  const crash = (what: string, error: unknown): void => {
    diagnostics.write(`${what}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    if (quitting) return
    screen.destroy()
    // Bracketed paste and focus reports off, as tui.close() would: the shell must not get them.
    process.stdout.write("\u001b[?2004l\u001b[?1004l")
    process.stderr.write(`mqtt-chat: internal error (${error instanceof Error ? error.message : String(error)}); details in ${diagnostics.file}\n`)
    diagnostics.close()
    process.exit(EXIT_FAILURE)
  }
  process.on("uncaughtException", (error) => crash("uncaught exception", error))
  process.on("unhandledRejection", (error) => crash("unhandled rejection", error))
  for (const signal of ["SIGTERM", "SIGHUP", "SIGINT"] as const) process.on(signal, () => void quit(EXIT_OK))

  tui = new ChatTui({
    port,
    layout,
    brokerLabel: () => broker.label,
    uiState: fileUiStateStore(path.join(options.profileDir, "ui-state.json"), (message) => diagnostics.write(message)),
    startupNotes,
    diagnostics: (line) => diagnostics.write(line),
    requestQuit: () => void quit(EXIT_OK),
    bell: options.bell ? "saved" : "off",
  })
  const restart = new LocalBrokerRestart(broker, brokerOptions, (text) => tui?.announce(text, "event"))
  port.subscribe((notice) => {
    if (notice._tag === "connection" && notice.state._tag === "reconnecting") void restart.onReconnectAttempt(notice.state.attempt)
  })
  tui.start()
  return EXIT_OK
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    // A running UI keeps the process alive; an early return ends it with its code.
    if (code !== EXIT_OK || process.stdout.isTTY !== true) process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`mqtt-chat: ${error instanceof StartupFailure || error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = EXIT_FAILURE
  },
)

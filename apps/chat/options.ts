/**
 * Command-line options of the chat client: parsed by hand (a dozen lines of rules beat a framework
 * here), every value validated, and one line of explanation for any mistake.
 */
import * as os from "node:os"
import * as path from "node:path"
import { splitArguments } from "../shared/cli-arguments.ts"

export interface ChatOptions {
  /** null: probe 127.0.0.1:embeddedPort, else start the embedded broker there. */
  readonly brokerUrl: string | null
  /** Where brokerUrl came from, for messages. */
  readonly brokerSource: "--broker" | "MQTT_URL" | null
  readonly profile: string
  readonly dataDir: string
  readonly profileDir: string
  readonly embeddedPort: number
  readonly requestTimeoutMs: number
}

export type ParsedOptions =
  | { readonly kind: "run"; readonly options: ChatOptions }
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "error"; readonly message: string }

export const DEFAULT_PROFILE = "default"
export const DEFAULT_EMBEDDED_PORT = 1883
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 24 * 60 * 60
/** Thirty days: a longer wait is a mistake in the unit, not a wish. */
export const MAX_REQUEST_TIMEOUT_SECONDS = 30 * 24 * 60 * 60
const PROFILE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

export const usage = (env: NodeJS.ProcessEnv): string => `mqtt-chat — a terminal chat over an MQTT broker

Usage: npm start -- [options]        (or: npx tsx apps/chat/main.ts [options])

Options:
  --broker URL                 the MQTT broker, mqtt://host:port (default: $MQTT_URL; without either,
                               mqtt://127.0.0.1:<embedded-port> if a broker answers there, else an
                               embedded broker is started on that port)
  --profile NAME               profile to use: one user id, its history and settings
                               (letters, digits, '_', '.', '-'; default "${DEFAULT_PROFILE}")
  --data-dir DIR               where profiles and the embedded broker's store live
                               (default: ${defaultDataDir(env)})
  --embedded-port N            port to look for a broker on, or to start the embedded one on
                               (1-65535, default ${DEFAULT_EMBEDDED_PORT})
  --request-timeout SECONDS    how long a conversation request waits for an answer
                               (default ${DEFAULT_REQUEST_TIMEOUT_SECONDS}, at most ${MAX_REQUEST_TIMEOUT_SECONDS})
  -h, --help                   show this help

Each profile lives in DATA_DIR/profiles/NAME: events.log (the history), chat.log (diagnostics),
ui-state.json (unread counts). One running client per profile.

In the client: F1..F8 or Ctrl-O for the menu, /help for commands and keys, /quit or Ctrl-Q to leave.
`

/** $XDG_DATA_HOME/mqtt-chat, or ~/.local/share/mqtt-chat (the XDG default). */
export const defaultDataDir = (env: NodeJS.ProcessEnv): string => {
  const xdg = env.XDG_DATA_HOME
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  if (xdg !== undefined && xdg !== "" && path.isAbsolute(xdg)) return path.join(xdg, "mqtt-chat")
  return path.join(os.homedir(), ".local", "share", "mqtt-chat")
}

/** An error message, or null when `url` is a usable broker address. */
export const checkBrokerUrl = (url: string): string | null => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return `not a URL: ${JSON.stringify(url.slice(0, 80))} (expected mqtt://host:port)`
  }
  if (parsed.protocol !== "mqtt:" && parsed.protocol !== "tcp:") return `unsupported scheme ${parsed.protocol} in ${JSON.stringify(url.slice(0, 80))}: only mqtt:// (plain TCP) is supported`
  if (parsed.hostname === "") return `no host in ${JSON.stringify(url.slice(0, 80))}`
  if (parsed.username !== "" || parsed.password !== "") return "credentials in the broker URL are not supported"
  if (parsed.pathname !== "" && parsed.pathname !== "/") return `unexpected path ${JSON.stringify(parsed.pathname.slice(0, 40))} in the broker URL`
  if (parsed.port !== "") {
    const port = Number(parsed.port)
    if (!Number.isInteger(port) || port < 1 || port > 65535) return `invalid port in ${JSON.stringify(url.slice(0, 80))}`
  }
  return null
}

const parsePort = (text: string): number | null => {
  if (!/^[0-9]{1,5}$/.test(text)) return null
  const port = Number(text)
  return port >= 1 && port <= 65535 ? port : null
}

const parseSeconds = (text: string): number | null => {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text)) return null
  const seconds = Number(text)
  return seconds > 0 && seconds <= MAX_REQUEST_TIMEOUT_SECONDS ? seconds : null
}

const expandHome = (dir: string): string => (dir === "~" ? os.homedir() : dir.startsWith("~/") ? path.join(os.homedir(), dir.slice(2)) : dir)

const VALUE_OPTIONS = ["--broker", "--profile", "--data-dir", "--embedded-port", "--request-timeout"] as const
type ValueOption = (typeof VALUE_OPTIONS)[number]

export const parseOptions = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): ParsedOptions => {
  const split = splitArguments(argv, VALUE_OPTIONS)
  if (split.kind === "help") return { kind: "help", text: usage(env) }
  if (split.kind === "error") return split
  const values = split.values

  const brokerArgument = values.get("--broker")
  const brokerEnv = env.MQTT_URL !== undefined && env.MQTT_URL !== "" ? env.MQTT_URL : undefined
  const brokerUrl = brokerArgument ?? brokerEnv ?? null
  const brokerSource = brokerArgument !== undefined ? "--broker" : brokerEnv !== undefined ? "MQTT_URL" : null
  if (brokerUrl !== null) {
    const problem = checkBrokerUrl(brokerUrl)
    if (problem !== null) return { kind: "error", message: `${brokerSource}: ${problem}` }
  }

  const profile = values.get("--profile") ?? DEFAULT_PROFILE
  if (!PROFILE_PATTERN.test(profile)) return { kind: "error", message: `--profile: ${JSON.stringify(profile.slice(0, 40))} is not a profile name (letters, digits, '_', '.', '-'; at most 64; not starting with '.' or '-')` }

  const dataDir = path.resolve(expandHome(values.get("--data-dir") ?? defaultDataDir(env)))

  const portText = values.get("--embedded-port")
  const embeddedPort = portText === undefined ? DEFAULT_EMBEDDED_PORT : parsePort(portText)
  if (embeddedPort === null) return { kind: "error", message: `--embedded-port: ${JSON.stringify(portText?.slice(0, 20))} is not a port (1-65535)` }

  const timeoutText = values.get("--request-timeout")
  const timeoutSeconds = timeoutText === undefined ? DEFAULT_REQUEST_TIMEOUT_SECONDS : parseSeconds(timeoutText)
  if (timeoutSeconds === null) return { kind: "error", message: `--request-timeout: ${JSON.stringify(timeoutText?.slice(0, 20))} is not a number of seconds (more than 0, at most ${MAX_REQUEST_TIMEOUT_SECONDS})` }

  return {
    kind: "run",
    options: {
      brokerUrl,
      brokerSource,
      profile,
      dataDir,
      profileDir: path.join(dataDir, "profiles", profile),
      embeddedPort,
      requestTimeoutMs: Math.round(timeoutSeconds * 1000),
    },
  }
}

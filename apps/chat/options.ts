/**
 * Command-line options of the chat client: parsed by hand (a dozen lines of rules beat a framework
 * here), every value validated, and one line of explanation for any mistake.
 */
import * as os from "node:os"
import * as path from "node:path"
import { splitArguments } from "../shared/cli-arguments.ts"
import { VERSION } from "../shared/version.ts"

export interface ChatOptions {
  /** null: the local broker of dataDir (apps/broker), started if none runs, or whatever answers on 127.0.0.1:embeddedPort. */
  readonly brokerUrl: string | null
  /** Where brokerUrl came from, for messages. */
  readonly brokerSource: "--broker" | "MQTT_URL" | null
  readonly profile: string
  readonly dataDir: string
  readonly profileDir: string
  readonly embeddedPort: number
  readonly requestTimeoutMs: number
  /** `--credentials FILE`: the login (username = user id, password), as broker:add-user writes it. */
  readonly credentialsFile: string | null
  /** The login's username without a file (`--username`, else MQTT_USERNAME); the password is MQTT_PASSWORD. */
  readonly username: string | null
  readonly usernameSource: "--username" | "MQTT_USERNAME" | null
  /** `--ca FILE`: the private CA that signed an mqtts:// broker's certificate. */
  readonly caFile: string | null
  /** `--embedded-password-file FILE`: the local broker, when this chat starts it, lets in only these users. */
  readonly embeddedPasswordFile: string | null
  /** `--no-bell`: this run starts with the terminal bell off (the saved /bell setting is kept). */
  readonly bell: boolean
}

export type ParsedOptions =
  | { readonly kind: "run"; readonly options: ChatOptions }
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "version"; readonly text: string }
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
  --broker URL                 the MQTT broker, mqtt://host:port or mqtts://host:port (TLS)
                               (default: $MQTT_URL; without either, the local broker of the data
                               directory, started in the background if it does not run, and kept
                               running after you quit: npm run broker -- status|stop; a broker
                               that already answers on 127.0.0.1:<embedded-port> is used instead)
  --credentials FILE           log in to the broker with this file's {"username", "password"}
                               (owner-only; made by npm run broker:add-user); the username is
                               your user id. Or: MQTT_USERNAME (or --username NAME) and
                               MQTT_PASSWORD in the environment. Never a password as an option.
  --ca FILE                    the CA certificate (PEM) that signed an mqtts:// broker's
                               certificate, for a private CA (default: the system's CAs)
  --embedded-password-file FILE
                               if this chat starts the local broker, it lets in only the users of
                               this Mosquitto password file, with the locked-down access rules
  --profile NAME               profile to use: one user id, its history and settings
                               (letters, digits, '_', '.', '-'; default "${DEFAULT_PROFILE}")
  --data-dir DIR               where profiles and the local broker (DIR/broker) live
                               (default: ${defaultDataDir(env)})
  --embedded-port N            port on 127.0.0.1 to start the local broker on, or to find one on
                               (1-65535, default ${DEFAULT_EMBEDDED_PORT})
  --request-timeout SECONDS    how long a conversation request waits for an answer
                               (default ${DEFAULT_REQUEST_TIMEOUT_SECONDS}, at most ${MAX_REQUEST_TIMEOUT_SECONDS})
  --no-bell                    do not ring the terminal bell in this run (otherwise it rings,
                               at most every 5 s, when a message or a request arrives in a
                               conversation not on screen; /bell on|off in the chat saves it)
  --version                    print the version
  -h, --help                   show this help

Each profile lives in DATA_DIR/profiles/NAME: events.log (the history), chat.log (diagnostics),
ui-state.json (unread counts, drafts, the /bell setting). One running client per profile.

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
  if (parsed.protocol !== "mqtt:" && parsed.protocol !== "tcp:" && parsed.protocol !== "mqtts:") return `unsupported scheme ${parsed.protocol} in ${JSON.stringify(url.slice(0, 80))}: only mqtt:// (plain TCP) and mqtts:// (TLS) are supported`
  if (parsed.hostname === "") return `no host in ${JSON.stringify(url.slice(0, 80))}`
  if (parsed.username !== "" || parsed.password !== "") return "credentials in the broker URL are not supported: use --credentials FILE, or MQTT_USERNAME and MQTT_PASSWORD"
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

const VALUE_OPTIONS = ["--broker", "--profile", "--data-dir", "--embedded-port", "--request-timeout", "--credentials", "--username", "--ca", "--embedded-password-file"] as const
type ValueOption = (typeof VALUE_OPTIONS)[number]

const PASSWORD_ON_COMMAND_LINE = "--password: a password given as an option can be read by every user of this machine (ps) and stays in your shell history; use --credentials FILE, or MQTT_PASSWORD in the environment"

export const parseOptions = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): ParsedOptions => {
  if (argv.includes("--version")) return { kind: "version", text: `mqtt-chat ${VERSION}\n` }
  if (argv.some((argument) => argument === "--password" || argument.startsWith("--password=") || argument === "-P")) return { kind: "error", message: PASSWORD_ON_COMMAND_LINE }
  const split = splitArguments(argv, VALUE_OPTIONS, ["--no-bell"])
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

  const credentialsFile = values.get("--credentials") ?? null
  const usernameArgument = values.get("--username")
  if (credentialsFile !== null && usernameArgument !== undefined) return { kind: "error", message: "--credentials and --username: give one (the file holds the username)" }
  const usernameEnv = env.MQTT_USERNAME !== undefined && env.MQTT_USERNAME !== "" ? env.MQTT_USERNAME : undefined
  // An explicit file beats the environment.
  const username = credentialsFile !== null ? null : (usernameArgument ?? usernameEnv ?? null)
  const usernameSource = username === null ? null : usernameArgument !== undefined ? "--username" : "MQTT_USERNAME"

  const caFile = values.get("--ca") ?? null
  if (caFile !== null && !(brokerUrl?.startsWith("mqtts:") ?? false)) return { kind: "error", message: "--ca is for a TLS broker: give --broker mqtts://host:port (or MQTT_URL)" }
  const embeddedPasswordFile = values.get("--embedded-password-file") ?? null
  const resolved = (file: string | null) => (file === null ? null : path.resolve(expandHome(file)))

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
      credentialsFile: resolved(credentialsFile),
      username,
      usernameSource,
      caFile: resolved(caFile),
      embeddedPasswordFile: resolved(embeddedPasswordFile),
      bell: !split.flags.has("--no-bell"),
    },
  }
}

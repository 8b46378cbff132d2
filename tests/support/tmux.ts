/**
 * A private tmux server for end-to-end tests of the terminal UI: its own socket (never the user's
 * server), no user configuration, a fixed window size, and a UTF-8 locale. Tests type with
 * `send-keys` and read the screen with `capture-pane`; `waitFor` polls with a deadline instead of
 * sleeping a fixed time.
 */
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { ensureBuilt, isUpToDate } from "../../bin/build.mjs"

const run = promisify(execFile)

const POLL_INTERVAL_MS = 100
/** How long `kill` waits for the programs of its panes to exit. */
const EXIT_WAIT_MS = 15_000
/** Process-tree depth searched below a pane (shell → node → its children). */
const MAX_TREE_DEPTH = 6

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The pids and all their descendants (bounded depth), via `pgrep -P`. */
const descendantsOf = async (roots: ReadonlyArray<number>): Promise<ReadonlyArray<number>> => {
  const all = [...roots]
  let level = [...roots]
  for (let depth = 0; depth < MAX_TREE_DEPTH && level.length > 0; depth++) {
    const next: number[] = []
    for (const pid of level) {
      try {
        const { stdout } = await run("pgrep", ["-P", String(pid)])
        next.push(...stdout.split("\n").map(Number).filter((child) => Number.isInteger(child) && child > 0))
      } catch {
        // pgrep exits 1 when there is no child.
      }
    }
    all.push(...next)
    level = next
  }
  return all
}

export interface TmuxOptions {
  readonly width: number
  readonly height: number
  /** Extra environment for every window. */
  readonly env?: Readonly<Record<string, string>>
}

export const tmuxAvailable = async (): Promise<boolean> => {
  try {
    await run("tmux", ["-V"])
    return true
  } catch {
    return false
  }
}

export class TmuxServer {
  private constructor(
    readonly socket: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly session: string,
  ) {}

  /** Starts a server with one idle session; windows are added with `newWindow`. The chat's bundle is built first if stale. */
  static async start(options: TmuxOptions): Promise<TmuxServer> {
    await ensureChatBundle()
    const socket = `mqtt-chat-e2e-${process.pid}-${randomBytes(4).toString("hex")}`
    const env: NodeJS.ProcessEnv = { ...process.env, LANG: "C.UTF-8", LC_ALL: "C.UTF-8", ...options.env }
    // TMUX set would make tmux think it runs nested inside the caller's session.
    delete env.TMUX
    const server = new TmuxServer(socket, env, "e2e")
    await server.tmux(["new-session", "-d", "-s", server.session, "-n", "idle", "-x", String(options.width), "-y", String(options.height), "sh"])
    // New windows take the size given here (-x/-y set the session's default-size). Setting
    // window-size to manual would pin it harder, but crashes tmux 3.3a on the next new-window.
    await server.tmux(["set-option", "-g", "default-terminal", "tmux-256color"])
    return server
  }

  async tmux(args: ReadonlyArray<string>): Promise<string> {
    const { stdout } = await run("tmux", ["-L", this.socket, "-f", "/dev/null", ...args], { env: this.env, maxBuffer: 8 * 1024 * 1024 })
    return stdout
  }

  private target(window: string): string {
    return `${this.session}:${window}`
  }

  /** A window running a plain shell in `cwd`: programs are started by typing, so they can be restarted. */
  async newWindow(name: string, cwd: string): Promise<void> {
    await this.tmux(["new-window", "-d", "-t", this.session, "-n", name, "-c", cwd, "bash --norc --noprofile"])
  }

  /** Key names as tmux knows them: "Enter", "Escape", "C-q", "F5", "y". */
  async keys(window: string, ...keys: ReadonlyArray<string>): Promise<void> {
    await this.tmux(["send-keys", "-t", this.target(window), ...keys])
  }

  /** Literal text (no key-name lookup). */
  async type(window: string, text: string): Promise<void> {
    await this.tmux(["send-keys", "-t", this.target(window), "-l", text])
  }

  /** Text, then Enter. */
  async line(window: string, text: string): Promise<void> {
    await this.type(window, text)
    await this.keys(window, "Enter")
  }

  async capture(window: string): Promise<string> {
    return this.tmux(["capture-pane", "-p", "-t", this.target(window)])
  }

  /** Where the window's cursor is (0-based column and row). */
  async cursor(window: string): Promise<{ readonly x: number; readonly y: number }> {
    const [x = "", y = ""] = (await this.tmux(["display-message", "-p", "-t", this.target(window), "#{cursor_x} #{cursor_y}"])).trim().split(" ")
    return { x: Number(x), y: Number(y) }
  }

  /** The screen with its colours and attributes as SGR sequences (`capture-pane -e`). */
  async captureStyled(window: string): Promise<string> {
    return this.tmux(["capture-pane", "-p", "-e", "-t", this.target(window)])
  }

  /**
   * Polls the window until `check` holds for its text; returns that text. Fails after `timeoutMs`
   * with the last screen in the message, so a failure shows what was there instead.
   */
  async waitFor(window: string, what: string, check: string | RegExp | ((screen: string) => boolean), timeoutMs = 15_000): Promise<string> {
    const test = typeof check === "string" ? (screen: string) => screen.includes(check) : check instanceof RegExp ? (screen: string) => check.test(screen) : check
    const deadline = Date.now() + timeoutMs
    let screen = ""
    // Bounded by the deadline: at most timeoutMs / POLL_INTERVAL_MS turns plus one.
    for (;;) {
      screen = await this.capture(window)
      if (test(screen)) return screen
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting in window ${window} for: ${what}\n--- screen ---\n${screen}`)
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS))
    }
  }

  /**
   * Ends the server, then waits (at most EXIT_WAIT_MS) for every program that ran in its panes to
   * exit: a chat ends on the hangup, and its last writes (the offline presence, a state snapshot)
   * must be done before a test removes the profile's directory.
   */
  async kill(): Promise<void> {
    let programs: ReadonlyArray<number> = []
    try {
      const panes = (await this.tmux(["list-panes", "-a", "-F", "#{pane_pid}"])).split("\n").map(Number).filter((pid) => Number.isInteger(pid) && pid > 0)
      programs = await descendantsOf(panes)
    } catch {
      // No server, or no panes: nothing to wait for.
    }
    try {
      await this.tmux(["kill-server"])
    } catch {
      // Already gone.
    }
    const deadline = Date.now() + EXIT_WAIT_MS
    while (programs.some(isAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS))
  }
}

/** The repository, and tsx in it: how the terminal tests start the other apps from their sources. */
export const ROOT = join(import.meta.dirname, "..", "..")
export const TSX = join(ROOT, "node_modules", ".bin", "tsx")

/**
 * The chat as the tests run it: the esbuild bundle of apps/chat/main.ts (bin/build.mjs), as
 * `npm start` does, built into its own directory so that it never races the build `npm start`
 * makes in dist/ (tests/e2e/npm-start.tmux.test.ts watches that one). Loading one file takes a
 * fraction of what tsx takes to compile the sources at every start — on 2 busy cores, seconds.
 */
export const CHAT_BUNDLE_DIR = join(ROOT, "dist", "e2e")
export const CHAT_BUNDLE = join(CHAT_BUNDLE_DIR, "chat.mjs")

/** The shell command that starts the chat (its options follow), once `ensureChatBundle` (TmuxServer.start) ran. */
export const CHAT = `${process.execPath} ${CHAT_BUNDLE}`

/** The shell command that starts the chat with `args` (already shell-quoted where needed). */
export const chatCommand = (args: string): string => `${CHAT} ${args}`

/** A build older than this holding the lock is taken to be dead (a worker killed mid-build). */
const STALE_LOCK_MS = 120_000
const BUILD_WAIT_MS = 180_000

let bundleReady: Promise<void> | null = null

/**
 * Builds the chat bundle if the sources changed since it was built: once per test run, whichever
 * worker gets there first (a lock directory, so parallel test files do not build twice); the
 * others wait for it and find it fresh.
 */
export const ensureChatBundle = (): Promise<void> => {
  bundleReady ??= buildUnderLock().catch((error: unknown) => {
    bundleReady = null
    throw error
  })
  return bundleReady
}

const buildUnderLock = async (): Promise<void> => {
  if (isUpToDate(CHAT_BUNDLE_DIR)) return
  mkdirSync(join(ROOT, "dist"), { recursive: true })
  const lock = join(ROOT, "dist", "e2e.lock")
  const deadline = Date.now() + BUILD_WAIT_MS
  // Bounded by the deadline: one turn per POLL_INTERVAL_MS.
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    }
    const since = (() => {
      try {
        return Date.now() - statSync(lock).mtimeMs
      } catch {
        return 0
      }
    })()
    if (since > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true })
    if (Date.now() > deadline) throw new Error(`the chat bundle was not built within ${BUILD_WAIT_MS} ms (lock ${lock})`)
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS))
  }
  try {
    // Another worker may have built it while this one waited: ensureBuilt finds it fresh then.
    await ensureBuilt(CHAT_BUNDLE_DIR)
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}
/** The chat's status bar starts with the user's id, then the connection state. */
export const STATUS_BAR = /^ (user-[0-9]+) +● connected/m

/** Without tmux the terminal suites are skipped locally; under CI (env CI) a missing tmux fails instead. */
export const terminalTestsRun = async (): Promise<boolean> =>
  (await tmuxAvailable()) || (process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false")

/** The id on the chat's status bar in `window`, once it says connected. */
export const connectedUserId = async (tmux: TmuxServer, window: string, timeoutMs = 60_000): Promise<string> => {
  const screen = await tmux.waitFor(window, "the status bar shows a connected user", STATUS_BAR, timeoutMs)
  const id = STATUS_BAR.exec(screen)?.[1]
  if (id === undefined) throw new Error("no user id on the status bar")
  return id
}

/**
 * The repro of issue 8, problem 1, in real terminals: three users on one machine, each with their
 * own data directory (their own home), no --broker, as `npm start` runs them; the port stands for
 * 1883. Before, the broker lived inside the first chat: when its user quit, another client started
 * a broker of its own on the port — with its own, empty store, so without anyone's session — and
 * the message sent to the user who quit never reached them (this test failed there: user 1 came
 * back to nothing). Now the broker is a process of its own: user 1 quits, user 3 writes to user 1,
 * user 1 restarts and sees the message at once, with no resend asked (`message.resend.asked`) and
 * nothing held; the user who quit is shown offline on both other screens meanwhile. Then the same
 * with user 2, and the broker is the same process from start to end.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { brokerStatus } from "../../apps/broker/control.ts"
import { freePort } from "../support/free-port.ts"
import { stopLocalBroker } from "../support/local-broker.ts"
import { CHAT, ROOT, STATUS_BAR, tmuxAvailable, TmuxServer } from "../support/tmux.ts"

const underCi = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"
const available = (await tmuxAvailable()) || underCi

/** The side list's entry for a user: "● user-N" online, "○ user-N" offline (the buffer list writes "@user-N"). */
const listed = (mark: "●" | "○", id: string) => new RegExp(`${mark} ${id}\\b`)

describe.skipIf(!available)("the local broker outlives the chat that started it (tmux)", () => {
  let tmux: TmuxServer
  let home: string
  let port: number
  /** Each user's own data directory, as three people's homes on one machine. */
  const dataDir = (user: string): string => join(home, user)

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "mqtt-chat-e2e-local-"))
    port = await freePort()
    tmux = await TmuxServer.start({ width: 160, height: 48 })
  })

  afterAll(async () => {
    await tmux?.kill()
    if (home !== undefined) for (const user of ["u1", "u2", "u3"]) await stopLocalBroker(dataDir(user))
    // The chats may still be writing their last lines as tmux ends them.
    if (home !== undefined) rmSync(home, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  /** What `npm start -- --data-dir D --embedded-port P` runs, from the sources; port P stands for 1883. */
  const launch = async (window: string, user: string): Promise<string> => {
    await tmux.line(window, `clear; ${CHAT} --data-dir ${dataDir(user)} --embedded-port ${port}; echo "EXIT=$?"`)
    const screen = await tmux.waitFor(window, `${user} is connected`, STATUS_BAR, 60_000)
    const id = STATUS_BAR.exec(screen)?.[1]
    if (id === undefined) throw new Error("no user id on the status bar")
    return id
  }

  const quit = async (window: string): Promise<void> => {
    await tmux.line(window, "/quit")
    await tmux.waitFor(window, `${window} exits with 0`, /^EXIT=0$/m, 20_000)
  }

  /** `from` asks `to` (in window `toWindow`) for a conversation, which is accepted in the popup. */
  const converse = async (fromWindow: string, toWindow: string, from: string, to: string): Promise<void> => {
    // As a person would: ask someone the side list shows (an id nobody has seen is asked about first).
    await tmux.waitFor(fromWindow, `${from} sees ${to} online`, listed("●", to))
    await tmux.line(fromWindow, `/talk ${to}`)
    await tmux.waitFor(toWindow, `the request popup for ${to}`, `${from} wants a one-to-one conversation with you`)
    await tmux.waitFor(toWindow, "the popup takes answers", "[y] accept")
    await tmux.keys(toWindow, "y")
    await tmux.waitFor(fromWindow, `${to} accepted`, `${to} accepted: conversation open on topic`)
  }

  const say = async (window: string, to: string, text: string): Promise<void> => {
    await tmux.line(window, `/open ${to}`)
    await tmux.waitFor(window, `${window} is in the conversation with ${to}`, (screen) => (screen.trimEnd().split("\n").pop() ?? "").startsWith(`[@${to}]`))
    await tmux.line(window, text)
  }

  /** The number of records of this kind in a profile's log (one JSON record per line). */
  const recordsOf = (user: string, tag: string): number =>
    readFileSync(join(dataDir(user), "profiles", "default", "events.log"), "utf8").split("\n").filter((line) => line.includes(`"_tag":"${tag}"`)).length

  it("a user quits, another writes to them, they come back and see it at once; offline everywhere meanwhile", { timeout: 300_000 }, async () => {
    for (const window of ["u1", "u2", "u3"]) await tmux.newWindow(window, ROOT)
    const id1 = await launch("u1", "u1")
    expect(await tmux.capture("u1")).toMatch(/Using the local broker at mqtt:\/\/127\.0\.0\.1:\d+ \(pid \d+; started it\)/)
    const broker = brokerStatus(dataDir("u1"))
    if (broker.kind !== "running") throw new Error(`the local broker is ${broker.kind}`)
    const id2 = await launch("u2", "u2")
    const id3 = await launch("u3", "u3")
    // The others have no broker of their own running: they use the one that answers on the port.
    expect(await tmux.capture("u3")).toContain(`Found an MQTT broker at ${broker.state.url}; using it.`)
    await converse("u3", "u1", id3, id1)
    await converse("u3", "u2", id3, id2)
    await say("u3", id1, "hello 1")
    await tmux.waitFor("u1", "u1 reads it", `<${id3}> hello 1`)

    // User 1, whose chat started the broker, quits; both others see it offline.
    await quit("u1")
    await tmux.waitFor("u2", "u2 sees u1 offline", listed("○", id1))
    await tmux.waitFor("u3", "u3 sees u1 offline", listed("○", id1))
    await say("u3", id1, "while you were away")
    await tmux.waitFor("u3", "u3's line is shown as sent", `<${id3}> while you were away`)

    // User 1 comes back: the message is there without user 3 writing again.
    expect(await launch("u1", "u1")).toBe(id1)
    await tmux.waitFor("u3", "u3 sees u1 online again", listed("●", id1))
    await tmux.line("u1", `/open ${id3}`)
    await tmux.waitFor("u1", "u1 reads the message sent while away", `<${id3}> while you were away`, 15_000)
    expect(recordsOf("u1", "message.resend.asked")).toBe(0)
    expect(recordsOf("u1", "message.held")).toBe(0)

    // The second round: user 2 quits, user 3 writes to user 2, user 2 comes back.
    await quit("u2")
    await tmux.waitFor("u1", "u1 sees u2 offline", listed("○", id2))
    await tmux.waitFor("u3", "u3 sees u2 offline", listed("○", id2))
    await say("u3", id2, "the only message while you were away")
    await tmux.waitFor("u3", "u3's second line is shown", `<${id3}> the only message while you were away`)
    expect(await launch("u2", "u2")).toBe(id2)
    await tmux.line("u2", `/open ${id3}`)
    await tmux.waitFor("u2", "u2 reads the message sent while away", `<${id3}> the only message while you were away`, 15_000)
    expect(recordsOf("u2", "message.resend.asked")).toBe(0)
    expect(recordsOf("u2", "message.held")).toBe(0)
    await tmux.waitFor("u1", "u1 sees u2 online again", listed("●", id2))

    // One broker all along: the process that user 1's first start began.
    const after = brokerStatus(dataDir("u1"))
    expect(after.kind === "running" ? after.state.pid : null).toBe(broker.state.pid)
    for (const window of ["u1", "u2", "u3"]) await quit(window)
    // Everyone quit: the broker still runs, and keeps their sessions for the next start.
    expect(brokerStatus(dataDir("u1")).kind).toBe("running")
    expect(brokerStatus(dataDir("u2")).kind).toBe("stopped")
  })
})

/**
 * `replay view` in a real terminal (tmux): the chat screen, read-only, at a record of a log the
 * core wrote; n/p step, m jumps to the next message, g to a seq, / searches; the status bar says
 * where the view is; typing sends nothing; q quits with exit 0.
 */
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { LogRecord } from "../../domain/events.ts"
import { writeUserLogs } from "../../apps/sim/write-logs.ts"
import { removeTempDirs, scriptedRun, tempDir } from "../support/replay-fixtures.ts"
import { ROOT, tmuxAvailable, TmuxServer, TSX } from "../support/tmux.ts"

const underCi = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"
const available = (await tmuxAvailable()) || underCi

describe.skipIf(!available)("replay view in a terminal", () => {
  let tmux: TmuxServer
  let profile: string
  let records: ReadonlyArray<LogRecord>
  const W = "view"

  beforeAll(async () => {
    const cluster = await scriptedRun()
    records = cluster.users[0]!.log
    profile = writeUserLogs(join(tempDir("view"), "run"), cluster.users)[0]!
    tmux = await TmuxServer.start({ width: 160, height: 40 })
    await tmux.newWindow(W, ROOT)
  })
  afterAll(async () => {
    await tmux?.kill()
    removeTempDirs()
  })

  const seqOf = (keep: (record: LogRecord) => boolean): number => records.find(keep)!.seq
  const at = (seq: number): RegExp => new RegExp(`replay seq ${seq}/${records.at(-1)!.seq} `)

  it("opens at a record, steps, jumps, searches, sends nothing, and quits", async () => {
    const hello = seqOf((r) => r.event._tag === "message.sent")
    const hostile = seqOf((r) => r.event._tag === "message.received")
    await tmux.line(W, `clear; ${TSX} apps/replay/main.ts view --at ${hello} ${profile}; echo "EXIT=$?"`)
    await tmux.waitFor(W, "the view at the first message", at(hello), 30_000)
    // The conversation buffer, as the chat showed it then: "hello" sent, the reply not yet there.
    await tmux.keys(W, "M-2")
    let screen = await tmux.waitFor(W, "the pair's buffer", /<user-10001> hello/)
    expect(screen).toMatch(/@user-10002 online · conversation open/)
    expect(screen).not.toMatch(/evil/)

    // m: the next chat message, the hostile reply, shown inert.
    await tmux.keys(W, "m")
    screen = await tmux.waitFor(W, "the reply", /<user-10002> .*evil/)
    expect(screen).toMatch(at(hostile))
    expect(screen).not.toMatch(/pwned/)

    // p: back one record; the reply is gone again (the screen is rebuilt on the earlier state).
    await tmux.keys(W, "p")
    screen = await tmux.waitFor(W, "one record back", at(hostile - 1))
    expect(screen).not.toMatch(/evil/)

    // g SEQ Enter: the last record; the group exists by then.
    const last = records.at(-1)!.seq
    await tmux.keys(W, "g")
    await tmux.waitFor(W, "the jump prompt", /jump to seq or time/)
    await tmux.type(W, String(last))
    await tmux.keys(W, "Enter")
    screen = await tmux.waitFor(W, "the last record", at(last))
    // The status bar changes in the same frame as the rest: the group is on screen by then.
    expect(screen).toMatch(/#room-1/)

    // / TEXT Enter: the record that mentions it (wrapping to the start).
    await tmux.keys(W, "/")
    await tmux.waitFor(W, "the search prompt", /search the log for/)
    await tmux.type(W, "request")
    await tmux.keys(W, "Enter")
    await tmux.waitFor(W, "the request", at(seqOf((r) => r.event._tag === "conversation.request.sent")))

    // Typing sends nothing: it is a replay.
    await tmux.type(W, "x")
    await tmux.waitFor(W, "the read-only hint", /read-only replay/)

    await tmux.keys(W, "q")
    await tmux.waitFor(W, "exit 0", /^EXIT=0$/m, 15_000)
  })

  it("without a terminal, says it needs one (exit 2)", async () => {
    // A window of its own: the screen of the first test must not answer for this one.
    await tmux.newWindow("piped", ROOT)
    await tmux.line("piped", `${TSX} apps/replay/main.ts view ${profile} < /dev/null | cat; echo "PIPED=\${PIPESTATUS[0]}"`)
    const screen = await tmux.waitFor("piped", "the refusal", /^PIPED=\d+$/m, 30_000)
    expect(screen).toMatch(/view needs an interactive terminal/)
    expect(screen).toMatch(/^PIPED=2$/m)
  })
})

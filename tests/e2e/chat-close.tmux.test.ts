/**
 * /close (issue 8, problem 4): a request sent to a mistyped id used to stay as "? user-444" and a
 * day-long waiting conversation that survived restarts. /close withdraws it, and it is gone from
 * the side list, after a restart too.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startAedes, type BrokerHandle } from "../support/brokers.ts"
import { CHAT, connectedUserId, ROOT, terminalTestsRun, TmuxServer } from "../support/tmux.ts"

const available = await terminalTestsRun()

/** The side list is the first 28 columns at this width (a fifth, within its bounds). */
const sideList = (screen: string): string => screen.split("\n").map((row) => row.slice(0, 28)).join("\n")

describe.skipIf(!available)("/close", () => {
  let broker: BrokerHandle
  let tmux: TmuxServer
  let dataDir: string

  beforeAll(async () => {
    broker = await startAedes()
    dataDir = mkdtempSync(join(tmpdir(), "mqtt-chat-close-"))
    tmux = await TmuxServer.start({ width: 140, height: 36 })
  })
  afterAll(async () => {
    await tmux?.kill()
    await broker?.dispose()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
  })

  it("withdraws it; user-444 leaves the side list and stays gone after a restart", async () => {
    const start = `clear; ${CHAT} --broker ${broker.url} --data-dir ${dataDir} --profile closer; echo "EXIT=$?"`
    await tmux.newWindow("a", ROOT)
    await tmux.line("a", start)
    await connectedUserId(tmux, "a")
    await tmux.keys("a", "F5")
    await tmux.waitFor("a", "the talk prompt", "user id:")
    await tmux.type("a", "444")
    await tmux.keys("a", "Enter")
    await tmux.waitFor("a", "the confirmation", "[y] ask anyway")
    await tmux.keys("a", "y")
    const asked = await tmux.waitFor("a", "asked, and user-444 in the side list", (screen) => screen.includes("asked user-444 for a conversation") && sideList(screen).includes("user-444"))
    expect(sideList(asked)).toContain("user-444")

    await tmux.line("a", "/close")
    // The note comes first; the side list follows with the next redraw (under load, a moment later).
    const closed = await tmux.waitFor("a", "withdrawn, and user-444 off the side list", (screen) =>
      screen.includes("request to user-444 withdrawn and closed") && !sideList(screen).includes("user-444"))
    expect(sideList(closed)).not.toContain("user-444")
    await tmux.keys("a", "C-q")
    await tmux.waitFor("a", "the client exits", "EXIT=0")

    await tmux.line("a", start)
    await connectedUserId(tmux, "a")
    const restarted = await tmux.waitFor("a", "the side list after a restart", (screen) => /Users \d+\/\d+ online/.test(screen))
    expect(restarted).not.toContain("user-444")
    await tmux.keys("a", "F1")
    const users = await tmux.waitFor("a", "the users popup", "Users and groups")
    expect(users).not.toContain("user-444")
    // Ctrl-Q quits from a popup too.
    await tmux.keys("a", "C-q")
    await tmux.waitFor("a", "the client exits again", "EXIT=0")
  })

  it("refuses an incoming request and leaves an active conversation", async () => {
    const launch = (window: string, profile: string) =>
      tmux.line(window, `clear; ${CHAT} --broker ${broker.url} --data-dir ${dataDir} --profile ${profile}; echo "EXIT=$?"`)
    await tmux.newWindow("b", ROOT)
    await tmux.newWindow("c", ROOT)
    await launch("b", "asked")
    await launch("c", "asker")
    const [idB, idC] = await Promise.all([connectedUserId(tmux, "b"), connectedUserId(tmux, "c")])
    await tmux.waitFor("c", "C sees B online", new RegExp(`● ${idB}`))
    await tmux.line("c", `/talk ${idB}`)
    await tmux.waitFor("b", "the request popup on B", "[y] accept")
    await tmux.keys("b", "Escape")
    await tmux.waitFor("b", "left pending", `request from ${idC} left pending`)
    await tmux.line("b", `/close ${idC}`)
    await tmux.waitFor("c", "C learns it was refused", `${idB} refused the conversation`)
    await tmux.waitFor("b", "B's side list has no buffer for C", (screen) => !sideList(screen).includes(`@${idC}`))

    // Asked again and accepted this time: /close in the conversation leaves it.
    await tmux.line("c", `/talk ${idB}`)
    await tmux.waitFor("b", "the second request popup", "[y] accept")
    await tmux.keys("b", "y")
    await tmux.waitFor("c", "the conversation is open", `${idB} accepted: conversation open on topic`)
    await tmux.line("c", "/close")
    await tmux.waitFor("b", "B learns C left", `${idC} left the conversation`)
    await tmux.waitFor("c", "C's side list has no buffer for B", (screen) => !sideList(screen).includes(`@${idB}`) && screen.includes("[status"))
    await tmux.keys("b", "C-q")
    await tmux.keys("c", "C-q")
    await tmux.waitFor("c", "C exits", "EXIT=0")
  })

  it("withdraws a join request waiting for the leader; a group left and closed stays closed after a restart", async () => {
    const launch = (window: string, profile: string) =>
      tmux.line(window, `clear; ${CHAT} --broker ${broker.url} --data-dir ${dataDir} --profile ${profile}; echo "EXIT=$?"`)
    /** A buffer row of the side list (its number first), not the "Groups" listing below the buffers. */
    const hasCrewBuffer = (screen: string) => /^ *\d+ +#crew/m.test(sideList(screen))
    await tmux.newWindow("d", ROOT)
    await tmux.newWindow("e", ROOT)
    await launch("d", "leader")
    await launch("e", "joiner")
    const [idD, idE] = await Promise.all([connectedUserId(tmux, "d"), connectedUserId(tmux, "e")])
    await tmux.line("d", "/group create crew")
    await tmux.waitFor("d", "the group is created", "you created #crew")
    await tmux.waitFor("e", "E sees the group", "#crew")
    // F4's suggestions count the members in the singular when there is one.
    await tmux.keys("e", "F4")
    const suggestions = await tmux.waitFor("e", "the join popup's suggestion", `leader ${idD} · 1 member`)
    expect(suggestions).not.toContain("1 members")
    await tmux.keys("e", "Escape")
    await tmux.line("e", "/join crew")
    await tmux.waitFor("d", "the join request popup", `${idE} asks to join #crew`)
    await tmux.keys("d", "Escape")
    await tmux.waitFor("e", "E waits", `asked ${idD} (the leader) to let you into #crew`)
    expect(hasCrewBuffer(await tmux.waitFor("e", "E's side list has the #crew buffer", (screen) => hasCrewBuffer(screen)))).toBe(true)

    await tmux.line("e", "/close")
    await tmux.waitFor("e", "E withdrew", "you withdrew your request to join #crew")
    await tmux.waitFor("d", "the leader is told", `${idE} withdrew the request to join #crew`)
    expect(hasCrewBuffer(await tmux.waitFor("e", "E's side list without the #crew buffer", (screen) => !hasCrewBuffer(screen)))).toBe(false)
    // The leader's F6 list says so, in its own column.
    await tmux.keys("d", "F6")
    await tmux.waitFor("d", "the withdrawn request in F6", new RegExp(`withdrawn +join #crew from ${idE}`))
    await tmux.keys("d", "Escape")

    // Asked again and refused: the note says how to ask again.
    await tmux.line("e", "/join crew")
    await tmux.waitFor("d", "the second join request popup", "[y] accept")
    await tmux.keys("d", "n")
    await tmux.waitFor("e", "E is refused", "your request to join #crew was refused — /join crew to ask again")
    // Asked again, accepted, a message (a history), then left and closed.
    await tmux.line("e", "/join crew")
    await tmux.waitFor("d", "the third join request popup", "[y] accept")
    await tmux.keys("d", "y")
    await tmux.waitFor("e", "E is in", `${idD} accepted you into #crew`)
    await tmux.line("e", "hello crew")
    await tmux.waitFor("d", "the leader has E's message", `<${idE}> hello crew`)
    await tmux.line("e", "/close")
    await tmux.waitFor("d", "the leader sees E leave", `${idE} left #crew`)
    await tmux.waitFor("e", "E's side list has no #crew buffer", (screen) => !hasCrewBuffer(screen))
    await tmux.keys("e", "C-q")
    await tmux.waitFor("e", "E exits", "EXIT=0")
    await launch("e", "joiner")
    await connectedUserId(tmux, "e")
    const restarted = await tmux.waitFor("e", "E's side list after a restart lists the group", (screen) => /Groups \d+/.test(screen))
    expect(hasCrewBuffer(restarted)).toBe(false)
    await tmux.keys("d", "C-q")
    await tmux.keys("e", "C-q")
    await tmux.waitFor("e", "E exits again", "EXIT=0")
  })
})

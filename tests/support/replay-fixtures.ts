/**
 * Logs for the replay tool's tests: a scripted conversation and group between three users of a
 * Cluster (the real core), hostile chat text included; an Output that collects lines; temp dirs.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { GroupName } from "../../domain/ids.ts"
import { Cluster } from "../../domain/sim/cluster.ts"
import type { Output } from "../../apps/replay/commands.ts"

/** Chat text that tries to drive the terminal: set the title, clear the screen, reverse the line, an 8-bit CSI. */
export const HOSTILE_TEXT = "\u001b]0;pwned\u0007 \u001b[2J evil \u202eexe.txt \u009b31m end"
export const DANGEROUS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

export const GROUP = "room-1" as GroupName

/** Three users: A and B talk (B sends the hostile text), A leads a group that C joins and writes in. */
export const scriptedCluster = (): Cluster => {
  const cluster = new Cluster({ seed: 3, users: 3 })
  const [a, b, c] = cluster.users.map((u) => u.id) as [typeof cluster.users[0]["id"], typeof cluster.users[0]["id"], typeof cluster.users[0]["id"]]
  const steps: ReadonlyArray<readonly [number, Parameters<Cluster["command"]>[1]]> = [
    [0, { _tag: "session.start" }],
    [1, { _tag: "session.start" }],
    [2, { _tag: "session.start" }],
    [0, { _tag: "conversation.request", peer: b }],
    [1, { _tag: "conversation.accept", peer: a }],
    [0, { _tag: "message.send", target: { _tag: "peer", peer: b }, text: "hello" }],
    [1, { _tag: "message.send", target: { _tag: "peer", peer: a }, text: HOSTILE_TEXT }],
    [0, { _tag: "group.create", group: GROUP }],
    [2, { _tag: "group.join", group: GROUP }],
    [0, { _tag: "group.accept", group: GROUP, user: c }],
    [2, { _tag: "message.send", target: { _tag: "group", group: GROUP }, text: "hi all" }],
  ]
  for (const [user, command] of steps) {
    const refused = cluster.command(user, command)
    if (refused !== null) throw new Error(`fixture: ${command._tag} refused: ${refused}`)
    cluster.drain()
  }
  return cluster
}

export const capture = () => {
  const lines: Array<string> = []
  const notes: Array<string> = []
  const out: Output = { line: (text) => lines.push(text), note: (text) => notes.push(text) }
  return { out, lines, notes }
}

/** Temp directories, removed by `removeTempDirs` (call it in afterAll). */
const dirs: Array<string> = []
export const tempDir = (name: string): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `replay-${name}-`))
  dirs.push(dir)
  return dir
}
export const removeTempDirs = (): void => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

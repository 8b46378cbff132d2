/**
 * Logs for the replay tool's tests: a scripted conversation and group between three real chat
 * services in the simulation world (apps/sim/harness.ts), hostile chat text included; an Output
 * that collects lines; temp dirs.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { GroupName } from "../../domain/ids.ts"
import type { Command } from "../../domain/chat/decide.ts"
import type { LogRecord } from "../../domain/events.ts"
import type { UserSnapshot } from "../../apps/sim/harness.ts"
import { openWorld } from "../../apps/sim/open-world.ts"
import type { Output } from "../../apps/replay/commands.ts"

/** Chat text that tries to drive the terminal: set the title, clear the screen, reverse the line, an 8-bit CSI. */
export const HOSTILE_TEXT = "\u001b]0;pwned\u0007 \u001b[2J evil \u202eexe.txt \u009b31m end"
export const DANGEROUS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

export const GROUP = "room-1" as GroupName

/** A finished scripted run: each user's log (read back from its log) and final state. */
export interface ScriptedRun {
  readonly users: ReadonlyArray<UserSnapshot>
}

/** Three users: A and B talk (B sends the hostile text), A leads a group that C joins and writes in. */
export const scriptedRun = async (): Promise<ScriptedRun> => {
  const world = await openWorld({ seed: 3, users: 3 })
  try {
    const [a, b, c] = world.ids as [UserSnapshot["id"], UserSnapshot["id"], UserSnapshot["id"]]
    const steps: ReadonlyArray<readonly [number, Command]> = [
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
      const refused = await world.command(user, command)
      if (refused !== null) throw new Error(`fixture: ${command._tag} refused: ${refused}`)
      await world.drain()
      // A second: acknowledgements are logged, and each step has its own time.
      await world.advance(1000)
    }
    return { users: await world.snapshot() }
  } finally {
    await world.close()
  }
}

/** A's log after a conversation with B in which A sent `messages` messages (a long log, quickly). */
export const longConversationLog = async (messages: number): Promise<ReadonlyArray<LogRecord>> => {
  const world = await openWorld({ seed: 5, users: 2 })
  try {
    const [a, b] = world.ids as [UserSnapshot["id"], UserSnapshot["id"]]
    await world.startAll()
    await world.command(0, { _tag: "conversation.request", peer: b })
    await world.drain()
    await world.command(1, { _tag: "conversation.accept", peer: a })
    await world.drain()
    for (let i = 0; i < messages; i++) {
      const refused = await world.command(0, { _tag: "message.send", target: { _tag: "peer", peer: b }, text: `line ${i}` })
      if (refused !== null) throw new Error(`fixture: message ${i} refused: ${refused}`)
      if (i % 100 === 99) await world.drain()
    }
    await world.drain()
    return await world.records(0)
  } finally {
    await world.close()
  }
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

/** The two small files the client keeps beside the log: chat.log (bounded, rotated) and ui-state.json (validated). */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { fileUiStateStore, MAX_REMEMBERED_TOPICS } from "../../adapters/tui/ui-state-store.ts"
import { DiagnosticsLog } from "../../apps/chat/diagnostics-log.ts"

const dirs: string[] = []
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mqtt-chat-files-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

describe("DiagnosticsLog", () => {
  it("writes one line per entry and rotates past its size, keeping one old file", () => {
    const file = path.join(tempDir(), "chat.log")
    const log = new DiagnosticsLog(file, 1_000, () => new Date(0))
    for (let i = 0; i < 60; i++) {
      log.write(`entry ${i} with a forged\nnewline`)
      log.flush()
    }
    log.close()
    const current = fs.readFileSync(file, "utf8")
    const rotated = fs.readFileSync(`${file}.1`, "utf8")
    expect(fs.statSync(file).size).toBeLessThanOrEqual(1_000)
    expect(fs.statSync(`${file}.1`).size).toBeLessThanOrEqual(1_000)
    expect(current).toContain("entry 59 with a forged ⏎ newline")
    expect(rotated.split("\n").every((line) => line === "" || line.startsWith("1970-01-01T00:00:00.000Z entry"))).toBe(true)
  })
})

describe("fileUiStateStore", () => {
  it("round-trips, and ignores (and reports) a file that is not what it wrote", () => {
    const file = path.join(tempDir(), "ui-state.json")
    const problems: string[] = []
    const store = fileUiStateStore(file, (p) => problems.push(p))
    expect(store.load()).toBeNull()
    store.save({ readCounts: { "1_2_talk": 3 }, lastBuffer: "@user-2" })
    expect(store.load()).toEqual({ readCounts: { "1_2_talk": 3 }, lastBuffer: "@user-2" })
    fs.writeFileSync(file, JSON.stringify({ version: 1, readCounts: { t: -1 }, lastBuffer: null }))
    expect(store.load()).toBeNull()
    fs.writeFileSync(file, "{not json")
    expect(store.load()).toBeNull()
    expect(problems).toHaveLength(2)
  })

  it("remembers at most MAX_REMEMBERED_TOPICS conversations", () => {
    const file = path.join(tempDir(), "ui-state.json")
    const store = fileUiStateStore(file, () => {})
    const readCounts = Object.fromEntries(Array.from({ length: MAX_REMEMBERED_TOPICS + 5 }, (_, i) => [`${i}_${i + 1}_talk`, i]))
    store.save({ readCounts, lastBuffer: null })
    expect(Object.keys(store.load()?.readCounts ?? {})).toHaveLength(MAX_REMEMBERED_TOPICS)
  })
})

/** Mosquitto's password file format, and agreement with Mosquitto's own tool in both directions. */
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { DECOY_HASH, hashPassword, newPassword, parsePasswordFile, verifyPassword, withEntry } from "../../adapters/broker/password-file.ts"

const underCi = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"
const hasMosquittoPasswd = spawnSync("mosquitto_passwd", ["-h"]).error === undefined

describe("password file", () => {
  it("hashes as $7$ PBKDF2-SHA512 and verifies only the right password", async () => {
    const hash = await hashPassword("correct horse", 101)
    expect(hash).toMatch(/^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/)
    expect(await verifyPassword(Buffer.from("correct horse"), hash)).toBe(true)
    expect(await verifyPassword(Buffer.from("correct horsE"), hash)).toBe(false)
    expect(await verifyPassword(Buffer.from(""), hash)).toBe(false)
    // Two hashes of one password differ (random salt).
    expect(await hashPassword("correct horse")).not.toBe(hash)
  })

  it("the decoy hash matches nothing, and unreadable hashes verify nothing", async () => {
    expect(await verifyPassword(Buffer.from(""), DECOY_HASH)).toBe(false)
    expect(await verifyPassword(Buffer.from("x"), "plaintext")).toBe(false)
    expect(await verifyPassword(Buffer.from("x"), "$7$0$AAAA$AAAA")).toBe(false)
    expect(await verifyPassword(Buffer.from("x"), "$7$99999999999$AAAA$AAAA")).toBe(false)
  })

  it("parses entries, skips comments and blank lines, reports every bad line by number", () => {
    const good = `$7$101$${"A".repeat(16)}$${"B".repeat(86)}==`
    const parsed = parsePasswordFile(`# users\nuser-1:${good}\n\nuser-2:${good}\r\nbroken\nuser-3:plain\nuser-1:${good}\n:${good}\n`)
    expect([...parsed.entries.keys()]).toEqual(["user-1", "user-2"])
    expect(parsed.problems).toEqual([
      "line 5: broken: not a $6$ or $7$ password hash",
      "line 6: user-3: not a $6$ or $7$ password hash",
      "line 7: user-1 given twice (the first line counts)",
      "line 8: no usable username",
    ])
  })

  it("sets an entry in place or appends it, leaving every other line as it was", () => {
    const text = "# keep me\nuser-1:old\nuser-2:two\n"
    expect(withEntry(text, "user-1", "new")).toBe("# keep me\nuser-1:new\nuser-2:two\n")
    expect(withEntry(text, "user-3", "three")).toBe("# keep me\nuser-1:old\nuser-2:two\nuser-3:three\n")
    expect(withEntry("", "user-1", "h")).toBe("user-1:h\n")
    expect(() => withEntry(text, "a:b", "h")).toThrow()
  })

  it("new passwords are 43 characters of base64url and not repeated", () => {
    const passwords = new Set(Array.from({ length: 100 }, newPassword))
    expect(passwords.size).toBe(100)
    for (const password of passwords) expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  describe.skipIf(!hasMosquittoPasswd && !underCi)("agrees with mosquitto_passwd", () => {
    it("verifies what mosquitto_passwd wrote, and mosquitto_passwd's file parses", async () => {
      const dir = mkdtempSync(join(tmpdir(), "mqtt-chat-passwd-"))
      try {
        const file = join(dir, "passwd")
        writeFileSync(file, "")
        // Test passwords only: -b puts them on a command line.
        const made = spawnSync("mosquitto_passwd", ["-b", file, "user-7", "s3cret pass"], { encoding: "utf8" })
        expect(made.status, made.stderr).toBe(0)
        const parsed = parsePasswordFile(readFileSync(file, "utf8"))
        expect(parsed.problems).toEqual([])
        const hash = parsed.entries.get("user-7")
        expect(hash).toMatch(/^\$7\$/)
        expect(await verifyPassword(Buffer.from("s3cret pass"), hash!)).toBe(true)
        expect(await verifyPassword(Buffer.from("s3cret pas"), hash!)).toBe(false)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
})

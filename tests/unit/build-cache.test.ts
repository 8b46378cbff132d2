/**
 * `npm start` builds only when something the bundles are made of changed (bin/build.mjs): a copy
 * of the sources is built once, found fresh the next time (no rebuild), and stale after a source
 * file, the lockfile or an output changes. npm's banner is erased only when it is certainly on
 * this terminal (bin/npm-banner.mjs).
 */
import { cpSync, mkdtempSync, rmSync, statSync, symlinkSync, unlinkSync, appendFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildKey, ensureBuilt, isUpToDate } from "../../bin/build.mjs"
import { npmBannerRows } from "../../bin/npm-banner.mjs"

const ROOT = join(import.meta.dirname, "..", "..")

describe("the build cache", () => {
  let root: string
  let out: string

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "mqtt-chat-build-"))
    for (const entry of ["domain", "adapters", "apps", "package.json", "package-lock.json"]) cpSync(join(ROOT, entry), join(root, entry), { recursive: true })
    symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"))
    out = join(root, "dist")
  })
  afterAll(() => {
    if (root !== undefined) rmSync(root, { recursive: true, force: true })
  })

  it("builds once, then finds the build fresh until a source, the lockfile or an output changes", async () => {
    expect(isUpToDate(out, root)).toBe(false)
    expect(await ensureBuilt(out, root)).toBe("built")
    const built = statSync(join(out, "chat.mjs")).mtimeMs
    expect(isUpToDate(out, root)).toBe(true)
    expect(await ensureBuilt(out, root)).toBe("fresh")
    expect(statSync(join(out, "chat.mjs")).mtimeMs).toBe(built)

    // A file deep in the bundle (the broker and the chat both use it).
    appendFileSync(join(root, "adapters", "storage", "file-lock.ts"), "\n// changed\n")
    expect(isUpToDate(out, root)).toBe(false)
    expect(await ensureBuilt(out, root)).toBe("built")
    expect(isUpToDate(out, root)).toBe(true)

    appendFileSync(join(root, "package-lock.json"), "\n")
    expect(isUpToDate(out, root)).toBe(false)
    expect(await ensureBuilt(out, root)).toBe("built")

    unlinkSync(join(out, "broker.mjs"))
    expect(isUpToDate(out, root)).toBe(false)
    expect(await ensureBuilt(out, root)).toBe("built")
    expect(isUpToDate(out, root)).toBe(true)
  })

  it("the key covers each listed file's content; a missing file has none", () => {
    const before = buildKey(["apps/chat/main.ts"], root)
    expect(before).toMatch(/^[0-9a-f]{64}$/)
    appendFileSync(join(root, "apps", "chat", "main.ts"), "\n")
    expect(buildKey(["apps/chat/main.ts"], root)).not.toBe(before)
    expect(buildKey(["apps/chat/no-such-file.ts"], root)).toBe(null)
  })
})

describe("npm's banner", () => {
  const npmEnv = {
    npm_config_user_agent: "npm/11.19.1 node/v20.20.2 linux x64",
    npm_lifecycle_event: "start",
    npm_lifecycle_script: "node bin/mqtt-chat.mjs",
    npm_package_name: "mqtt-chat",
    npm_package_version: "0.1.0",
  }
  const tty = (columns: number) => ({ isTTY: true, columns, write: () => true })
  const argv = (...args: string[]) => ["node", "bin/mqtt-chat.mjs", ...args]

  it("counts its rows as the terminal wraps them: an empty line, two lines, an empty line", () => {
    expect(npmBannerRows(npmEnv, argv(), tty(160))).toBe(4)
    // "> node bin/mqtt-chat.mjs --profile alice" is 40 characters: two rows at 39 columns.
    expect(npmBannerRows(npmEnv, argv("--profile", "alice"), tty(39))).toBe(5)
    expect(npmBannerRows(npmEnv, argv("--profile", "alice"), tty(40))).toBe(4)
  })

  it("is left alone when it is not npm's banner on a terminal", () => {
    expect(npmBannerRows(npmEnv, argv(), { isTTY: false, columns: 160, write: () => true })).toBe(0)
    expect(npmBannerRows({ ...npmEnv, npm_config_loglevel: "silent" }, argv(), tty(160))).toBe(0)
    expect(npmBannerRows({ ...npmEnv, npm_config_json: "true" }, argv(), tty(160))).toBe(0)
    expect(npmBannerRows({ ...npmEnv, npm_config_user_agent: "yarn/1.22.0 npm/? node/v20" }, argv(), tty(160))).toBe(0)
    expect(npmBannerRows({}, argv(), tty(160))).toBe(0)
  })
})

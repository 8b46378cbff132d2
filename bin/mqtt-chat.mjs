#!/usr/bin/env node
/**
 * `npm start`: builds the chat if its sources changed since the last build (bin/build.mjs; a few
 * milliseconds when nothing did), then runs dist/chat.mjs in this process — quietly: npm's banner
 * is erased (bin/npm-banner.mjs) and a build prints nothing unless it fails.
 */
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { ensureBuilt, ROOT } from "./build.mjs"
import { eraseNpmBanner } from "./npm-banner.mjs"

eraseNpmBanner()
try {
  await ensureBuilt()
} catch (error) {
  console.error(`mqtt-chat: the build failed (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`)
  process.exit(1)
}
await import(pathToFileURL(path.join(ROOT, "dist", "chat.mjs")).href)

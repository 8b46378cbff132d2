#!/usr/bin/env node
/**
 * `npm run broker -- start|stop|status|run`: builds if the sources changed (bin/build.mjs), then
 * runs dist/broker.mjs in this process. `start` runs the broker itself as `node dist/broker.mjs run`,
 * detached: not under npm, so it outlives this command and every chat.
 */
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { ensureBuilt, ROOT } from "./build.mjs"
import { eraseNpmBanner } from "./npm-banner.mjs"

eraseNpmBanner()
try {
  await ensureBuilt()
} catch (error) {
  console.error(`mqtt-chat broker: the build failed (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`)
  process.exit(1)
}
await import(pathToFileURL(path.join(ROOT, "dist", "broker.mjs")).href)

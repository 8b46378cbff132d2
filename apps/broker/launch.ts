/**
 * How to run the broker process: with node itself, never through npm or a shell, so that it is
 * nobody's child once detached. From the build (dist/chat.mjs, dist/broker.mjs) that is
 * `node dist/broker.mjs`; from the sources (tsx, the tests) `node --import tsx apps/broker/main.ts`.
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export interface BrokerCommand {
  readonly file: string
  readonly args: ReadonlyArray<string>
  /** A directory that outlives the process's start (not the caller's, which may be temporary). */
  readonly cwd: string
}

export const brokerCommand = (): BrokerCommand => {
  const here = fileURLToPath(import.meta.url)
  if (here.endsWith(".ts")) {
    const root = path.join(path.dirname(here), "..", "..")
    return { file: process.execPath, args: ["--import", import.meta.resolve("tsx"), path.join(root, "apps", "broker", "main.ts")], cwd: root }
  }
  // Bundled: this code is inside dist/chat.mjs or dist/broker.mjs, and the broker is beside it.
  const dist = path.dirname(here)
  return { file: process.execPath, args: [path.join(dist, "broker.mjs")], cwd: path.dirname(dist) }
}

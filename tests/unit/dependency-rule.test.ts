/**
 * apps → adapters → domain, never the other way; domain/ does no I/O and reads neither the clock
 * nor randomness (they are injected through ports). Checked on the import statements of every file.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { describe, expect, it } from "vitest"

const ROOT = join(import.meta.dirname, "..", "..")

const filesUnder = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith(".ts") ? [path] : []
  })

const importsOf = (source: string): string[] =>
  [...source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? m[2] ?? "")

/** What domain/ may import: itself, effect, xstate. */
const DOMAIN_ALLOWED = (specifier: string) =>
  specifier.startsWith(".") || specifier === "effect" || specifier.startsWith("effect/") || specifier === "xstate"

export const violations = (layer: "domain" | "adapters", file: string, source: string): string[] => {
  const found: string[] = []
  for (const specifier of importsOf(source)) {
    const target = specifier.startsWith(".") ? relative(ROOT, join(file, "..", specifier)) : specifier
    if (layer === "domain") {
      if (!DOMAIN_ALLOWED(specifier)) found.push(`imports ${specifier}`)
      if (target.startsWith("adapters") || target.startsWith("apps")) found.push(`imports outer layer ${target}`)
    } else if (target.startsWith("apps")) {
      found.push(`imports ${target}`)
    }
  }
  if (layer === "domain") {
    const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "")
    if (/\bDate\.now\(|new Date\(\)|Math\.random\(|performance\.now\(/.test(code)) found.push("reads the clock or randomness directly")
    if (/\bprocess\.|\brequire\(/.test(code)) found.push("touches the process")
  }
  return found
}

describe("dependency rule", () => {
  it("domain/ imports only domain, effect and xstate, and reads no clock or randomness", () => {
    const problems = filesUnder(join(ROOT, "domain")).flatMap((file) =>
      violations("domain", file, readFileSync(file, "utf8")).map((v) => `${relative(ROOT, file)}: ${v}`),
    )
    expect(problems).toEqual([])
  })

  it("adapters/ never import apps/", () => {
    const problems = filesUnder(join(ROOT, "adapters")).flatMap((file) =>
      violations("adapters", file, readFileSync(file, "utf8")).map((v) => `${relative(ROOT, file)}: ${v}`),
    )
    expect(problems).toEqual([])
  })

  it("catches what it should (negative space)", () => {
    const file = join(ROOT, "domain", "x.ts")
    expect(violations("domain", file, `import { readFileSync } from "node:fs"`)).toContain("imports node:fs")
    expect(violations("domain", file, `import mqtt from "mqtt"`)).toContain("imports mqtt")
    expect(violations("domain", file, `import blessed from "blessed"`)).toContain("imports blessed")
    expect(violations("domain", file, `import { X } from "../adapters/storage/file-event-log.ts"`)).toContain("imports outer layer adapters/storage/file-event-log.ts")
    expect(violations("domain", file, `export { Y } from "../apps/chat/main.ts"`)).toContain("imports outer layer apps/chat/main.ts")
    expect(violations("domain", file, `const t = Date.now()`)).toContain("reads the clock or randomness directly")
    expect(violations("domain", file, `const r = Math.random()`)).toContain("reads the clock or randomness directly")
    expect(violations("domain", file, `const m = await import("node:net")`)).toContain("imports node:net")
    expect(violations("adapters", join(ROOT, "adapters", "a", "b.ts"), `import { main } from "../../apps/chat/main.ts"`)).toEqual(["imports apps/chat/main.ts"])
    expect(violations("domain", file, `import { Schema } from "effect"\nimport { setup } from "xstate"\nimport { topics } from "./ids.ts"`)).toEqual([])
  })
})

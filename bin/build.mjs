/**
 * Builds dist/chat.mjs and dist/broker.mjs with esbuild — only when something they are made of
 * changed. dist/build.json keeps a key: the sha256 of this file, package-lock.json (the versions
 * of the bundled packages) and every source file of ours that went into the bundles (the list
 * comes from esbuild's metafile). A start reads and hashes those few hundred kilobytes (a few ms)
 * instead of bundling (about a second); a changed, added or removed import changes a listed file,
 * so the list stays complete.
 *
 * Plain JavaScript on purpose: it runs before anything is compiled, with node alone.
 *
 *   node bin/build.mjs            build if stale (npm run build)
 *   node bin/build.mjs --force    build anyway
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const FORMAT = 1

/**
 * Packages bundled too: one file loads in half the time of the hundreds that effect, mqtt, xstate
 * and aedes are made of (`--help` 0.28 s against 0.52 s; `npm run broker -- start` 0.34 s against
 * 0.68 s). Left outside: blessed (it requires its widgets by computed names and reads terminfo
 * files beside itself) and classic-level (a native module found beside its package).
 */
const BUNDLES = [
  { entry: "apps/chat/main.ts", out: "chat.mjs", external: ["blessed"] },
  { entry: "apps/broker/main.ts", out: "broker.mjs", external: ["classic-level"] },
]

const COMMON = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
  metafile: true,
  write: false,
  // Bundled CommonJS packages call require() for node's modules: give the ES module one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
}

const sha256 = (data) => createHash("sha256").update(data).digest("hex")

/** The key of a build made of `inputs` (paths relative to ROOT); null when one is missing. */
export const buildKey = (inputs, root = ROOT) => {
  const hash = createHash("sha256")
  hash.update(`format ${FORMAT}\n`)
  for (const file of [fileURLToPath(import.meta.url), path.join(root, "package-lock.json"), ...inputs.map((input) => path.join(root, input))]) {
    let content
    try {
      content = fs.readFileSync(file)
    } catch {
      return null
    }
    hash.update(`${path.relative(root, file)}\n${sha256(content)}\n`)
  }
  return hash.digest("hex")
}

const readManifest = (outDir) => {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(outDir, "build.json"), "utf8"))
    return manifest !== null && typeof manifest.key === "string" && Array.isArray(manifest.inputs) && manifest.inputs.every((input) => typeof input === "string") ? manifest : null
  } catch {
    return null
  }
}

/** Whether dist/ holds bundles built from the sources as they are now. */
export const isUpToDate = (outDir = path.join(ROOT, "dist"), root = ROOT) => {
  const manifest = readManifest(outDir)
  if (manifest === null) return false
  if (!BUNDLES.every((bundle) => fs.existsSync(path.join(outDir, bundle.out)))) return false
  return buildKey(manifest.inputs, root) === manifest.key
}

/** Writes `contents` to `file` in one step (a concurrent start reads the old or the new bundle). */
const replace = (file, contents) => {
  const temporary = `${file}.${process.pid}.tmp`
  fs.writeFileSync(temporary, contents)
  fs.renameSync(temporary, file)
}

/** Bundles every entry; returns the inputs (ours, not node_modules) they were made of. */
export const build = async (outDir = path.join(ROOT, "dist"), root = ROOT) => {
  const esbuild = await import("esbuild")
  fs.mkdirSync(outDir, { recursive: true })
  const inputs = new Set()
  for (const bundle of BUNDLES) {
    const result = await esbuild.build({
      ...COMMON,
      absWorkingDir: root,
      entryPoints: [bundle.entry],
      outfile: path.join(outDir, bundle.out),
      external: bundle.external,
    })
    for (const input of Object.keys(result.metafile.inputs)) {
      if (!input.split(/[\\/]/).includes("node_modules")) inputs.add(input)
    }
    for (const output of result.outputFiles) replace(output.path, output.contents)
  }
  const sorted = [...inputs].sort()
  const key = buildKey(sorted, root)
  replace(path.join(outDir, "build.json"), `${JSON.stringify({ key, inputs: sorted }, null, 1)}\n`)
  return sorted
}

/** Builds if stale; "fresh" or "built". */
export const ensureBuilt = async (outDir = path.join(ROOT, "dist"), root = ROOT) => {
  if (isUpToDate(outDir, root)) return "fresh"
  await build(outDir, root)
  return "built"
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const force = process.argv.includes("--force")
  const started = Date.now()
  try {
    const outcome = force ? (await build(), "built") : await ensureBuilt()
    if (process.argv.includes("--verbose")) console.log(`${outcome} in ${Date.now() - started} ms`)
  } catch (error) {
    // esbuild has printed the errors already.
    console.error(`build failed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`)
    process.exitCode = 1
  }
}

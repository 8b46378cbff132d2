/**
 * The identity file `identity.json` of a profile directory: user id and key seeds, owner-only
 * (0600). Written once, atomically (temporary file, fsync, rename, fsync of the directory), and
 * never overwritten; a damaged file is an error, never "no identity".
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Layer, Option, Result, Schema } from "effect"
import { IdentityStore, IdentityStoreError } from "../../domain/ports/identity-store.port.ts"
import { StoredIdentity } from "../../domain/trust/identity.ts"

export const IDENTITY_FILE = "identity.json"
const MAX_IDENTITY_BYTES = 4096

const decode = Schema.decodeUnknownResult(Schema.fromJsonString(StoredIdentity))
const encode = Schema.encodeSync(Schema.fromJsonString(StoredIdentity))

const code = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code
const io = (what: string, error: unknown) => new IdentityStoreError({ reason: "io", message: `${what}: ${(error as Error).message}` })

export const loadIdentityFile = (file: string): Effect.Effect<Option.Option<StoredIdentity>, IdentityStoreError> =>
  Effect.gen(function* () {
    const text = yield* Effect.try({
      try: () => {
        const stat = fs.statSync(file)
        if (stat.size > MAX_IDENTITY_BYTES) throw new Error(`${stat.size} bytes, more than an identity holds`)
        // Keys readable by others are keys others may have: tighten, the owner keeps using them.
        if ((stat.mode & 0o077) !== 0) fs.chmodSync(file, 0o600)
        return fs.readFileSync(file, "utf8")
      },
      catch: (error) => error,
    }).pipe(
      Effect.map(Option.some),
      Effect.catch((error) => (code(error) === "ENOENT" ? Effect.succeed(Option.none<string>()) : Effect.fail(io(`cannot read ${file}`, error)))),
    )
    if (Option.isNone(text)) return Option.none()
    const decoded = decode(text.value)
    if (Result.isFailure(decoded)) {
      return yield* new IdentityStoreError({ reason: "corrupt", message: `${file} is damaged (${decoded.failure.message.slice(0, 120)}); restore it from a backup — the keys cannot be recreated` })
    }
    return Option.some(decoded.success)
  })

export const saveIdentityFile = (file: string, identity: StoredIdentity): Effect.Effect<void, IdentityStoreError> =>
  Effect.try({
    try: () => {
      if (fs.existsSync(file)) throw Object.assign(new Error(`${file} already exists`), { code: "EEXIST" })
      const dir = path.dirname(file)
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
      const temporary = `${file}.${process.pid}.tmp`
      const fd = fs.openSync(temporary, "w", 0o600)
      try {
        fs.writeSync(fd, `${encode(identity)}\n`)
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
      fs.linkSync(temporary, file) // fails if the file appeared meanwhile: never overwrite an identity
      fs.unlinkSync(temporary)
      const dirFd = fs.openSync(dir, "r")
      try {
        fs.fsyncSync(dirFd)
      } finally {
        fs.closeSync(dirFd)
      }
    },
    catch: (error) =>
      code(error) === "EEXIST"
        ? new IdentityStoreError({ reason: "exists", message: `${file} already exists` })
        : io(`cannot write ${file}`, error),
  })

export const FileIdentityStore = {
  layer: (options: { readonly dir: string }) => {
    const file = path.join(options.dir, IDENTITY_FILE)
    return Layer.succeed(IdentityStore, IdentityStore.of({ load: loadIdentityFile(file), save: (identity) => saveIdentityFile(file, identity) }))
  },
} as const

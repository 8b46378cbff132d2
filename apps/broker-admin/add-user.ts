/**
 * `npm run broker:add-user -- --password-file FILE [user-NNNNN]`: gives a user a login on a broker
 * that checks who connects (adapters/broker/mosquitto-secure.conf).
 *
 * Draws a fresh `user-NNNNN` unless one is given, makes a random 256-bit password, writes the
 * user's credentials file (owner-only) for the chat's `--credentials`, adds the hash to the
 * password file in Mosquitto's `$7$` format (no `mosquitto_passwd -b`, which would put the
 * password on a command line), and rewrites the ACL file for all the users of the password file.
 * Each file is replaced atomically (written beside it, then renamed), keeping its mode and owner.
 * Mosquitto reads both files again on SIGHUP.
 */
import { execFileSync } from "node:child_process"
import { randomInt } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { mosquittoAcl } from "../../adapters/broker/access-rules.ts"
import { hashPassword, MAX_PASSWORD_FILE_BYTES, newPassword, parsePasswordFile, withEntry } from "../../adapters/broker/password-file.ts"
import { USER_ID_PATTERN } from "../../domain/ids.ts"
import { splitArguments } from "../shared/cli-arguments.ts"
import { credentialsText, type CredentialsFile } from "../shared/credentials-file.ts"

export const addUserUsage = `mqtt-chat broker:add-user — give a user a login on a locked-down broker

Usage: npm run broker:add-user -- --password-file FILE [options] [user-NNNNN]

  --password-file FILE     Mosquitto's password file (created if missing), as in
                           adapters/broker/mosquitto-secure.conf
  --acl-file FILE          the ACL file to write for all its users (default: "acl" beside the
                           password file)
  --credentials-out FILE   where the user's credentials go (default: ./user-NNNNN.credentials.json),
                           owner-only; hand it to the user, who runs the chat with --credentials FILE
  --owner USER             make new password and ACL files belong to USER (e.g. mosquitto, which
                           must be able to read them); existing files keep their owner
  --replace                give an existing user a new password (the old one stops working at
                           the broker's next reload) and overwrite its credentials file
  user-NNNNN               the user id to create; default: a fresh one not in the password file

Afterwards reload the broker: kill -HUP <mosquitto's pid> (or systemctl reload mosquitto).
`

export interface AddUserOptions {
  readonly passwordFile: string
  readonly aclFile: string
  readonly credentialsOut: string | null
  readonly owner: string | null
  readonly replace: boolean
  readonly user: string | null
}

const VALUE_OPTIONS = ["--password-file", "--acl-file", "--credentials-out", "--owner"] as const
const FLAG_OPTIONS = ["--replace"] as const
/** MQTT 3.1.1 servers must accept client ids up to 23 characters; the username becomes the client id. */
const MAX_USER_ID_CHARS = 23
const MAX_DRAWS = 1_000

export const parseAddUserOptions = (argv: ReadonlyArray<string>, cwd: string): { readonly kind: "run"; readonly options: AddUserOptions } | { readonly kind: "help"; readonly text: string } | { readonly kind: "error"; readonly message: string } => {
  // The one bare argument (the user id) is taken out first; everything else is --options.
  const positional: string[] = []
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i] ?? ""
    if ((VALUE_OPTIONS as ReadonlyArray<string>).includes(argument)) rest.push(argument, argv[++i] ?? "")
    else if (argument.startsWith("-")) rest.push(argument)
    else positional.push(argument)
  }
  const split = splitArguments(rest, VALUE_OPTIONS, FLAG_OPTIONS)
  if (split.kind === "help") return { kind: "help", text: addUserUsage }
  if (split.kind === "error") return split
  if (positional.length > 1) return { kind: "error", message: `one user at a time: got ${positional.length} (${positional.slice(0, 3).join(", ")})` }
  const user = positional[0] ?? null
  if (user !== null && (!USER_ID_PATTERN.test(user) || user.length > MAX_USER_ID_CHARS)) return { kind: "error", message: `${JSON.stringify(user.slice(0, 40))} is not a user id (user-NNNNN: "user-" and 1 to 12 digits)` }
  const passwordFile = split.values.get("--password-file")
  if (passwordFile === undefined) return { kind: "error", message: "--password-file FILE is required" }
  const resolved = (file: string) => path.resolve(cwd, file)
  const acl = split.values.get("--acl-file")
  const out = split.values.get("--credentials-out")
  return {
    kind: "run",
    options: {
      passwordFile: resolved(passwordFile),
      aclFile: acl === undefined ? path.join(path.dirname(resolved(passwordFile)), "acl") : resolved(acl),
      credentialsOut: out === undefined ? null : resolved(out),
      owner: split.values.get("--owner") ?? null,
      replace: split.flags.has("--replace"),
      user,
    },
  }
}

class AddUserFailure extends Error {}

const readIfPresent = (file: string): string => {
  try {
    const size = fs.statSync(file).size
    if (size > MAX_PASSWORD_FILE_BYTES) throw new AddUserFailure(`${file} is ${size} bytes: not a password file`)
    return fs.readFileSync(file, "utf8")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return ""
    throw error
  }
}

const ownerIds = (user: string): { readonly uid: number; readonly gid: number } => {
  try {
    const id = (flag: string) => Number(execFileSync("id", [flag, user], { encoding: "utf8" }).trim())
    return { uid: id("-u"), gid: id("-g") }
  } catch {
    throw new AddUserFailure(`--owner: no user ${JSON.stringify(user)} on this machine`)
  }
}

/** Replaces `file` with `text` atomically: same directory, fsynced, then renamed; mode and owner kept (or given for a new file). */
const replaceFile = (file: string, text: string, fresh: { readonly mode: number; readonly owner: { readonly uid: number; readonly gid: number } | null }): void => {
  let mode = fresh.mode
  let owner = fresh.owner
  try {
    const stat = fs.statSync(file)
    mode = stat.mode & 0o777
    owner = { uid: stat.uid, gid: stat.gid }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
  }
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)
  const fd = fs.openSync(temporary, "wx", mode)
  try {
    fs.writeFileSync(fd, text)
    fs.fchmodSync(fd, mode)
    if (owner !== null && process.getuid?.() === 0) fs.fchownSync(fd, owner.uid, owner.gid)
    fs.fsyncSync(fd)
  } catch (error) {
    fs.closeSync(fd)
    fs.rmSync(temporary, { force: true })
    throw error
  }
  fs.closeSync(fd)
  fs.renameSync(temporary, file)
}

const drawFreeUser = (taken: ReadonlyMap<string, string>): string => {
  for (let draw = 0; draw < MAX_DRAWS; draw++) {
    const candidate = `user-${randomInt(10_000, 100_000)}`
    if (!taken.has(candidate)) return candidate
  }
  throw new AddUserFailure(`no free user-NNNNN after ${MAX_DRAWS} draws: give one explicitly`)
}

/** Does the work; returns the lines to print. Throws AddUserFailure (or an I/O error) without having changed the password file. */
export const addUser = async (options: AddUserOptions, cwd: string): Promise<ReadonlyArray<string>> => {
  fs.mkdirSync(path.dirname(options.passwordFile), { recursive: true, mode: 0o750 })
  const before = readIfPresent(options.passwordFile)
  const parsed = parsePasswordFile(before)
  if (parsed.problems.length > 0) throw new AddUserFailure(`${options.passwordFile}: ${parsed.problems.slice(0, 3).join("; ")}: fix or remove those lines first`)
  const user = options.user ?? drawFreeUser(parsed.entries)
  if (parsed.entries.has(user) && !options.replace) throw new AddUserFailure(`${user} already has a password in ${options.passwordFile}: --replace gives it a new one`)
  const owner = options.owner === null ? null : ownerIds(options.owner)
  const credentials: CredentialsFile = { username: user as CredentialsFile["username"], password: newPassword() }
  const credentialsFile = options.credentialsOut ?? path.join(cwd, `${user}.credentials.json`)

  // The credentials first: if they cannot be written, nothing else changes.
  let fd: number
  try {
    fd = fs.openSync(credentialsFile, options.replace ? "w" : "wx", 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new AddUserFailure(`${credentialsFile} already exists: choose another --credentials-out, or --replace`)
    throw error
  }
  try {
    fs.fchmodSync(fd, 0o600)
    fs.writeFileSync(fd, credentialsText(credentials))
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  let after: string
  try {
    after = withEntry(before, user, await hashPassword(credentials.password))
    replaceFile(options.passwordFile, after, { mode: 0o600, owner })
  } catch (error) {
    if (!options.replace) fs.rmSync(credentialsFile, { force: true })
    throw error
  }
  const users = [...parsePasswordFile(after).entries.keys()]
  const acl = mosquittoAcl(users)
  try {
    replaceFile(options.aclFile, acl.text, { mode: 0o644, owner })
  } catch (error) {
    throw new AddUserFailure(`${user} is in ${options.passwordFile}, but the access rules could not be written to ${options.aclFile} (${(error as Error).message}); fix that and run again with --replace`)
  }
  return [
    `${parsed.entries.has(user) ? "New password for" : "Added"} ${user} in ${options.passwordFile} (${users.length} users).`,
    `Access rules for them written to ${options.aclFile}.`,
    ...(acl.skipped.length > 0 ? [`Not in the access rules (names unfit for an ACL line): ${acl.skipped.slice(0, 5).join(", ")}.`] : []),
    `Credentials for ${user}: ${credentialsFile} (owner-only; give it to that user).`,
    `Reload the broker to let ${user} in: kill -HUP <mosquitto's pid>, or systemctl reload mosquitto.`,
    `The user then runs: npm start -- --broker mqtt://HOST:1883 --credentials ${credentialsFile}   (mqtts://HOST:8883 --ca CA.crt over TLS)`,
  ]
}

export const main = async (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<number> => {
  // npm runs scripts in the package's directory; paths the user typed are relative to where they were.
  const cwd = env.INIT_CWD !== undefined && env.INIT_CWD !== "" ? env.INIT_CWD : process.cwd()
  const parsed = parseAddUserOptions(argv, cwd)
  if (parsed.kind === "help") {
    process.stdout.write(parsed.text)
    return 0
  }
  if (parsed.kind === "error") {
    process.stderr.write(`broker:add-user: ${parsed.message} (see --help)\n`)
    return 2
  }
  try {
    for (const line of await addUser(parsed.options, cwd)) process.stdout.write(`${line}\n`)
    return 0
  } catch (error) {
    process.stderr.write(`broker:add-user: ${error instanceof Error ? error.message : String(error)}\n`)
    return 1
  }
}

// Run only as a program, not when a test imports the functions.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  main(process.argv.slice(2), process.env).then((code) => {
    process.exitCode = code
  })
}

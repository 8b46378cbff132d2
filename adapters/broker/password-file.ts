/**
 * Mosquitto's password file, read and written without `mosquitto_passwd` (which would want the
 * password on its command line, where every user of the machine can read it in `ps`).
 *
 * One `username:hash` per line. Mosquitto 2.0 writes and reads `$7$ITERATIONS$SALT$HASH`:
 * PBKDF2-HMAC-SHA512 of the password with a 12-byte salt, 64 bytes out, salt and hash in base64.
 * Mosquitto 1.x wrote `$6$SALT$HASH`, one SHA-512 of password + salt; 2.0 still reads it, so the
 * embedded broker does too. Blank lines and lines starting with `#` are ignored, as Mosquitto does.
 */
import { createHash, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto"

/**
 * Mosquitto 2.0's default. Stretching only slows down guessing of weak passwords; the passwords
 * `broker:add-user` makes are 256 random bits, and every CONNECT pays for the iterations.
 */
export const DEFAULT_ITERATIONS = 101
const SALT_BYTES = 12
const HASH_BYTES = 64
/** A password file of 100,000 users is about 15 MB: larger is a mistake, not a deployment. */
export const MAX_PASSWORD_FILE_BYTES = 32 * 1024 * 1024
/** Bound on the work a (hostile or mistaken) file can ask of every login. */
const MAX_ITERATIONS = 10_000_000
/** MQTT strings are at most 65,535 bytes; a username or password near that is an attack. */
export const MAX_CREDENTIAL_BYTES = 1_024

export interface PasswordFile {
  /** username → the stored hash, in file order. */
  readonly entries: ReadonlyMap<string, string>
  /** Lines that are neither blank, a comment nor `username:hash`: "line N: why". */
  readonly problems: ReadonlyArray<string>
}

/** Parses the file's text; never throws. A repeated username keeps its first line, like Mosquitto. */
export const parsePasswordFile = (text: string): PasswordFile => {
  const entries = new Map<string, string>()
  const problems: string[] = []
  const lines = text.split("\n")
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] ?? "").replace(/\r$/, "")
    if (line.trim() === "" || line.startsWith("#")) continue
    const colon = line.indexOf(":")
    const username = colon < 0 ? line : line.slice(0, colon)
    const hash = colon < 0 ? "" : line.slice(colon + 1)
    if (username === "" || Buffer.byteLength(username) > MAX_CREDENTIAL_BYTES) problems.push(`line ${index + 1}: no usable username`)
    else if (decodeHash(hash) === undefined) problems.push(`line ${index + 1}: ${username}: not a $6$ or $7$ password hash`)
    else if (entries.has(username)) problems.push(`line ${index + 1}: ${username} given twice (the first line counts)`)
    else entries.set(username, hash)
  }
  return { entries, problems }
}

/** The file's text with `username` set to `hash` (replaced in place, or appended); other lines untouched. */
export const withEntry = (text: string, username: string, hash: string): string => {
  if (username.includes(":") || username.includes("\n") || hash.includes("\n")) throw new Error("a username or hash with ':' or a newline cannot be stored")
  const lines = text === "" ? [] : text.replace(/\n$/, "").split("\n")
  const index = lines.findIndex((line) => line.startsWith(`${username}:`))
  if (index >= 0) lines[index] = `${username}:${hash}`
  else lines.push(`${username}:${hash}`)
  return `${lines.join("\n")}\n`
}

type DecodedHash =
  | { readonly kind: 7; readonly iterations: number; readonly salt: Buffer; readonly hash: Buffer }
  | { readonly kind: 6; readonly salt: Buffer; readonly hash: Buffer }

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

const decodeHash = (text: string): DecodedHash | undefined => {
  const parts = text.split("$")
  if (parts[0] !== "") return undefined
  if (parts[1] === "7" && parts.length === 5) {
    const [, , iterationsText = "", saltText = "", hashText = ""] = parts
    if (!/^[1-9][0-9]{0,7}$/.test(iterationsText) || !BASE64.test(saltText) || !BASE64.test(hashText)) return undefined
    const iterations = Number(iterationsText)
    const salt = Buffer.from(saltText, "base64")
    const hash = Buffer.from(hashText, "base64")
    if (iterations > MAX_ITERATIONS || salt.length === 0 || hash.length !== HASH_BYTES) return undefined
    return { kind: 7, iterations, salt, hash }
  }
  if (parts[1] === "6" && parts.length === 4) {
    const [, , saltText = "", hashText = ""] = parts
    if (!BASE64.test(saltText) || !BASE64.test(hashText)) return undefined
    const salt = Buffer.from(saltText, "base64")
    const hash = Buffer.from(hashText, "base64")
    if (salt.length === 0 || hash.length !== HASH_BYTES) return undefined
    return { kind: 6, salt, hash }
  }
  return undefined
}

const pbkdf2Sha512 = (password: Buffer, salt: Buffer, iterations: number): Promise<Buffer> =>
  new Promise((resolve, reject) => pbkdf2(password, salt, iterations, HASH_BYTES, "sha512", (error, key) => (error ? reject(error) : resolve(key))))

/** A `$7$` hash of `password`, as `mosquitto_passwd` 2.0 writes it. */
export const hashPassword = async (password: string, iterations: number = DEFAULT_ITERATIONS, salt: Buffer = randomBytes(SALT_BYTES)): Promise<string> => {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) throw new Error(`invalid iteration count ${iterations}`)
  const key = await pbkdf2Sha512(Buffer.from(password, "utf8"), salt, iterations)
  return `$7$${iterations}$${salt.toString("base64")}$${key.toString("base64")}`
}

/** Whether `password` matches `stored` (a `$6$` or `$7$` hash); false for anything unreadable. Constant-time compare. */
export const verifyPassword = async (password: Buffer, stored: string): Promise<boolean> => {
  const decoded = decodeHash(stored)
  if (decoded === undefined || password.length > MAX_CREDENTIAL_BYTES) return false
  const computed = decoded.kind === 7
    ? await pbkdf2Sha512(password, decoded.salt, decoded.iterations)
    : createHash("sha512").update(password).update(decoded.salt).digest()
  return computed.length === decoded.hash.length && timingSafeEqual(computed, decoded.hash)
}

/**
 * A hash that matches no password, to verify against when the username is unknown: a login then
 * costs the same whether or not the user exists, so timing does not tell which users do.
 */
export const DECOY_HASH = `$7$${DEFAULT_ITERATIONS}$${Buffer.alloc(SALT_BYTES).toString("base64")}$${Buffer.alloc(HASH_BYTES).toString("base64")}`

/** 32 random bytes in base64url: 43 characters, 256 bits, nothing a shell or JSON would mangle. */
export const newPassword = (): string => randomBytes(32).toString("base64url")

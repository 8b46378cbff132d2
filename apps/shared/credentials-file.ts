/**
 * A user's broker credentials, as `npm run broker:add-user` writes them and the chat reads them
 * (`--credentials FILE`): `{ "username": "user-NNNNN", "password": "..." }`, owner-only (0600).
 * The username is the user id, because the broker makes it the client id.
 */
import * as fs from "node:fs"
import { Result, Schema } from "effect"
import { MAX_CREDENTIAL_BYTES } from "../../adapters/broker/password-file.ts"
import { UserId } from "../../domain/ids.ts"

export const CredentialsFile = Schema.Struct({
  username: UserId,
  password: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(MAX_CREDENTIAL_BYTES)),
})
export type CredentialsFile = typeof CredentialsFile.Type

/** A credentials file is a few dozen bytes; anything much larger is not one. */
const MAX_FILE_BYTES = 4_096
const decodeCredentials = Schema.decodeUnknownResult(Schema.fromJsonString(CredentialsFile))

export const credentialsText = (credentials: CredentialsFile): string => `${JSON.stringify({ username: credentials.username, password: credentials.password }, null, 2)}\n`

/**
 * Reads and checks a credentials file: it must be a regular file, not readable or writable by
 * group or others (like ssh's keys: a password others can read is everyone's), and decode.
 * The error is one line that names the file and says how to fix it.
 */
export const readCredentialsFile = (file: string): Result.Result<CredentialsFile, string> => {
  let text: string
  try {
    const stat = fs.statSync(file)
    if (!stat.isFile()) return Result.fail(`credentials ${file}: not a regular file`)
    if ((stat.mode & 0o077) !== 0) return Result.fail(`credentials ${file}: readable by others (mode ${(stat.mode & 0o777).toString(8).padStart(3, "0")}); make it owner-only: chmod 600 ${file}`)
    if (stat.size > MAX_FILE_BYTES) return Result.fail(`credentials ${file}: ${stat.size} bytes is not a credentials file`)
    text = fs.readFileSync(file, "utf8")
  } catch (error) {
    return Result.fail(`credentials ${file}: ${(error as Error).message}`)
  }
  const decoded = decodeCredentials(text)
  // The schema's message could quote the password: say only what shape was expected.
  if (Result.isFailure(decoded)) return Result.fail(`credentials ${file}: expected {"username": "user-NNNNN", "password": "..."} (as npm run broker:add-user writes it)`)
  return Result.succeed(decoded.success)
}

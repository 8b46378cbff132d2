/**
 * Writes each virtual user's log as a profile directory (`DIR/<user-id>/events.log`) in the file
 * log's own framing, so the replay tool can check, fold and merge the logs of a run.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { LOG_FILE } from "../../adapters/storage/file-event-log.ts"
import { encodeRecordLine } from "../../adapters/storage/record-codec.ts"
import type { LogRecord } from "../../domain/events.ts"

export interface UserLog {
  readonly id: string
  readonly log: ReadonlyArray<LogRecord>
}

/** Refuses a directory that already holds something: a run never overwrites files. */
export const writeUserLogs = (dir: string, users: ReadonlyArray<UserLog>): ReadonlyArray<string> => {
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) throw new Error(`${dir} is not empty; give a new or empty directory`)
  return users.map((user) => {
    const profile = path.join(dir, user.id)
    fs.mkdirSync(profile, { recursive: true })
    fs.writeFileSync(path.join(profile, LOG_FILE), Buffer.concat(user.log.map(encodeRecordLine)))
    return profile
  })
}

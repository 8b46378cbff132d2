/**
 * What the UI remembers between runs that the event log does not: how many messages of each
 * conversation were read (unread counts survive a restart), which buffer was open, and the unsent
 * line of each buffer (bounded: MAX_SAVED_DRAFTS drafts of MAX_SAVED_DRAFT_CHARS). A small JSON
 * file in the profile directory, replaced atomically (write a temp file, rename); read through a
 * Schema, since a file on disk is input like any other. Losing it costs only these conveniences.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Result, Schema } from "effect"
import { MAX_SAVED_DRAFT_CHARS, MAX_SAVED_DRAFTS } from "./drafts.ts"

/** More conversations than this are not remembered (the oldest keys are not special: any are cut). */
export const MAX_REMEMBERED_TOPICS = 10_000
/** Groups closed with /close after leaving them: at most this many stay out of the side list. */
export const MAX_CLOSED_GROUPS = 1_000

const UiStateSchema = Schema.Struct({
  version: Schema.Literal(1),
  readCounts: Schema.Record(Schema.String, Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))).check(Schema.isMaxProperties(MAX_REMEMBERED_TOPICS)),
  lastBuffer: Schema.NullOr(Schema.String.check(Schema.isMaxLength(80))),
  /** Absent in files written before drafts were kept. */
  drafts: Schema.optionalKey(
    Schema.Record(Schema.String.check(Schema.isMaxLength(80)), Schema.String.check(Schema.isMaxLength(MAX_SAVED_DRAFT_CHARS))).check(Schema.isMaxProperties(MAX_SAVED_DRAFTS)),
  ),
  /** Absent in files written before the bell: on. */
  bell: Schema.optionalKey(Schema.Boolean),
  /** Groups left and closed (/close): a history alone does not bring their buffers back. */
  closedGroups: Schema.optionalKey(Schema.Array(Schema.String.check(Schema.isMaxLength(80))).check(Schema.isMaxLength(MAX_CLOSED_GROUPS))),
})

export interface UiState {
  /** Per conversation topic: how many of its messages had been seen. */
  readonly readCounts: Readonly<Record<string, number>>
  readonly lastBuffer: string | null
  /** Per buffer key: the unsent line. */
  readonly drafts?: Readonly<Record<string, string>>
  /** /bell on|off; absent means on. */
  readonly bell?: boolean
  /** Names of groups closed with /close while not in them. */
  readonly closedGroups?: ReadonlyArray<string>
}

export interface UiStateStore {
  /** null when nothing was saved yet (a new profile, or an unreadable file: reported via onProblem). */
  load(): UiState | null
  save(state: UiState): void
}

const decodeUiState = Schema.decodeUnknownResult(Schema.fromJsonString(UiStateSchema))

export const fileUiStateStore = (file: string, onProblem: (message: string) => void): UiStateStore => ({
  load: () => {
    let text: string
    try {
      text = fs.readFileSync(file, "utf8")
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") onProblem(`ui state ${file}: ${(error as Error).message}`)
      return null
    }
    const decoded = decodeUiState(text)
    if (Result.isFailure(decoded)) {
      onProblem(`ui state ${file} ignored: ${String(decoded.failure).slice(0, 200)}`)
      return null
    }
    const { readCounts, lastBuffer, drafts, bell, closedGroups } = decoded.success
    return {
      readCounts,
      lastBuffer,
      ...(drafts === undefined ? {} : { drafts }),
      ...(bell === undefined ? {} : { bell }),
      ...(closedGroups === undefined ? {} : { closedGroups }),
    }
  },
  save: (state) => {
    const entries = Object.entries(state.readCounts).slice(0, MAX_REMEMBERED_TOPICS)
    const drafts = Object.entries(state.drafts ?? {})
      .filter(([key, text]) => key.length <= 80 && text.length <= MAX_SAVED_DRAFT_CHARS)
      .slice(0, MAX_SAVED_DRAFTS)
    const closedGroups = (state.closedGroups ?? []).filter((name) => name.length <= 80).slice(-MAX_CLOSED_GROUPS)
    const body = JSON.stringify({
      version: 1,
      readCounts: Object.fromEntries(entries),
      lastBuffer: state.lastBuffer,
      ...(drafts.length === 0 ? {} : { drafts: Object.fromEntries(drafts) }),
      ...(state.bell === undefined ? {} : { bell: state.bell }),
      ...(closedGroups.length === 0 ? {} : { closedGroups }),
    })
    const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)
    try {
      fs.writeFileSync(temporary, body, { mode: 0o600 })
      fs.renameSync(temporary, file)
    } catch (error) {
      onProblem(`ui state ${file} not saved: ${(error as Error).message}`)
    }
  },
})

export const memoryUiStateStore = (initial: UiState | null = null): UiStateStore & { readonly saved: () => UiState | null } => {
  let current = initial
  return {
    load: () => current,
    save: (state) => {
      current = state
    },
    saved: () => current,
  }
}

/**
 * What the parts of the terminal UI (input, commands, requests, popups, notes, drawing) need from
 * the controller that owns the state (chat-tui.ts). Each part gets this and nothing more, so each
 * can be read alone; the controller is the only implementation.
 */
import type { RequestEntry } from "../../domain/chat/chat-state.ts"
import type { ChatBuffer, NoteLevel } from "./chat-buffer.ts"
import type { ChatAction, ChatPort, ChatSnapshot, ConnectionState, GroupListing, UserListing } from "./chat-port.ts"
import type { BufferTarget } from "./commands.ts"
import type { Drafts } from "./drafts.ts"
import type { Layout } from "./layout.ts"
import type { LineEditor } from "./line-editor.ts"
import type { Popup } from "./popups.ts"

export interface TuiHost {
  readonly me: string
  readonly port: ChatPort
  readonly layout: Layout
  readonly now: () => number
  readonly snapshot: ChatSnapshot
  readonly connection: ConnectionState
  readonly activeKey: string
  /** Buffer keys in side-list order, the status buffer first. */
  readonly order: ReadonlyArray<string>
  readonly drafts: Drafts
  /** The active buffer's input line. */
  readonly editor: LineEditor
  /** Open popups, the top one last. */
  readonly popups: Popup[]
  /** Who is in a request summary and still waits: no notes of their own ("@user", "#group user"). */
  readonly quiet: Set<string>
  /** Groups whose join request I am withdrawing (/leave, /close): "withdrawn", not "refused", when it ends. */
  readonly withdrawnJoins: Set<string>
  hint: string | null
  /** The message shown highlighted (a /search hit), in buffer `key`. */
  readonly highlight: { readonly key: string; readonly seq: number } | null
  /** The message the pane should scroll to in buffer `key`, once (a /search hit); null when none. */
  takeJump(key: string): number | null
  /** Opens the buffer, loads back to message `seq`, highlights it and scrolls there. */
  jumpTo(key: string, seq: number): Promise<void>
  buffer(key: string): ChatBuffer | undefined
  topicOf(target: BufferTarget): string | null
  userListing(user: string): UserListing | null
  groupListing(group: string): GroupListing | null
  unreadOf(buffer: ChatBuffer): number
  pendingRequests(): ReadonlyArray<RequestEntry>
  /** My message with this id waits for the broker's acknowledgement. */
  isPending(id: string): boolean
  requestsOfBuffer(buffer: ChatBuffer): ReadonlyArray<RequestEntry>
  note(key: string, text: string, level: NoteLevel): void
  /** A note in the buffer of `target` if it has one, else in the status buffer. */
  noteFor(target: BufferTarget, text: string, level: NoteLevel): void
  activate(key: string): void
  /** Whether the bell rings for what arrives out of sight (/bell). */
  readonly bellOn: boolean
  /** /bell on|off, saved; null, or why not. */
  setBell(on: boolean): string | null
  /** Takes a buffer off the side list (/close). */
  closeBuffer(key: string): void
  open(target: BufferTarget): void
  pushPopup(popup: Popup): void
  requestRender(): void
  scheduleRefresh(): void
  scheduleSave(): void
  loadOlder(buffer: ChatBuffer): Promise<void>
  /** Runs an action; a refusal by the service becomes an error note in the current buffer. */
  perform(action: ChatAction): Promise<boolean>
  quit(): void
}

/**
 * What the controller remembers for the profile between runs (ui-state-store.ts) and the bell that
 * goes with it: how much of each conversation was read, the /bell setting, and the debounced save
 * of all of it (with the drafts, the open buffer and the closed groups the controller hands in).
 */
import { arrivalsBetween, BellGate, deservesBell } from "./bell.ts"
import type { ChatSnapshot } from "./chat-port.ts"
import type { UiState, UiStateStore } from "./ui-state-store.ts"

/** Changes are saved at most this often (and at close). */
const SAVE_UI_STATE_AFTER_MS = 2_000

/** What the controller adds to a save: the parts of the UI state it owns. */
export type UiStateParts = Pick<UiState, "lastBuffer" | "drafts" | "closedGroups">

export class UiMemory {
  /** What the last run saved (null on a profile's first run or an unreadable file). */
  readonly saved: UiState | null
  private readonly readCounts: Record<string, number>
  private readonly bell: BellGate
  /** The saved /bell setting: --no-bell turns the bell off for one run without changing it. */
  private bellSetting: boolean
  private saveTimer: NodeJS.Timeout | null = null

  constructor(
    private readonly store: UiStateStore,
    first: ChatSnapshot,
    /** "saved": the profile's /bell setting; "off": off this run (--no-bell); null: never (the replay viewer). */
    private readonly bellMode: "saved" | "off" | null,
    private readonly parts: () => UiStateParts,
  ) {
    this.saved = store.load()
    // No saved state (first run of the UI on this profile): what is in the log counts as read.
    this.readCounts = this.saved === null
      ? Object.fromEntries([...first.topics].map(([topic, summary]) => [topic, summary.messages]))
      : { ...this.saved.readCounts }
    this.bellSetting = this.saved?.bell ?? true
    this.bell = new BellGate(bellMode === "saved" && this.bellSetting)
  }

  /** Messages of `topic` not read yet, of `total`. */
  unread(topic: string, total: number): number {
    return Math.max(0, total - (this.readCounts[topic] ?? 0))
  }

  markRead(topic: string, total: number): void {
    if (this.readCounts[topic] === total) return
    this.readCounts[topic] = total
    this.scheduleSave()
  }

  get bellOn(): boolean {
    return this.bell.enabled
  }

  /** /bell on|off, saved; null, or why it cannot ring here. */
  setBell(on: boolean): string | null {
    if (this.bellMode === null) return "this view never rings the bell"
    this.bell.turn(on)
    this.bellSetting = on
    this.scheduleSave()
    return null
  }

  /** Whether what arrived between the snapshots deserves the bell now (out of sight, the gate open); `shownKey` null: nothing is seen. */
  shouldRing(previous: ChatSnapshot, current: ChatSnapshot, me: string, shownKey: string | null, now: number): boolean {
    return deservesBell(arrivalsBetween(previous, current, me), shownKey) && this.bell.ring(now)
  }

  scheduleSave(): void {
    if (this.saveTimer !== null) return
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null
      this.save()
    }, SAVE_UI_STATE_AFTER_MS)
  }

  /** Saves now (the controller closes). */
  close(): void {
    if (this.saveTimer !== null) clearTimeout(this.saveTimer)
    this.saveTimer = null
    this.save()
  }

  private save(): void {
    this.store.save({ readCounts: this.readCounts, bell: this.bellSetting, ...this.parts() })
  }
}

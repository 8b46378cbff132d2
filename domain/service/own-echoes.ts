/**
 * My own chat frames coming back: I subscribe to every talk topic I write to, so the broker hands
 * each of my messages back to me. Deciding one costs a signature check (the most expensive step
 * of receiving) only to be ignored as "my own message". A frame that is byte for byte one I sealed
 * on the same topic can be ignored at once: it is exactly what the full path would have verified,
 * decrypted and ignored.
 *
 * Only talk topics (one-to-one and group): an echo of my retained presence or group information
 * also tells whether the broker's retained copy is still mine (retained.ts) and takes the full path.
 * Bounded: a frame whose echo never comes (a dropped subscription) is forgotten, first in first out.
 */
import { fromUtf8 } from "../trust/bytes.ts"
import { parseTopic } from "../ids.ts"

/** Frames sealed and not yet seen back; beyond this the oldest are forgotten (their echo takes the full path). */
export const MAX_AWAITED_ECHOES = 4096

const isTalkTopic = (topic: string): boolean => {
  const kind = parseTopic(topic).kind
  return kind === "talk" || kind === "groupTalk"
}

export class OwnEchoes {
  /** Frame text → the topic it was sealed for. Map order is insertion order: the oldest first. */
  private readonly awaited = new Map<string, string>()

  /** Remembers a frame I am about to publish (talk topics only). */
  sealed(topic: string, payload: Uint8Array): void {
    if (!isTalkTopic(topic)) return
    const text = fromUtf8(payload)
    if (text === null) return
    this.awaited.delete(text)
    this.awaited.set(text, topic)
    if (this.awaited.size > MAX_AWAITED_ECHOES) {
      const oldest = this.awaited.keys().next()
      if (!oldest.done) this.awaited.delete(oldest.value)
    }
  }

  /**
   * Whether a live (not retained) delivery is the echo of a frame I sealed for that topic; it is
   * forgotten then, so a second copy (a QoS 1 redelivery) takes the full path and its checks.
   */
  isEcho(topic: string, payload: Uint8Array, retained: boolean): boolean {
    if (retained || this.awaited.size === 0 || !isTalkTopic(topic)) return false
    const text = fromUtf8(payload)
    if (text === null || this.awaited.get(text) !== topic) return false
    this.awaited.delete(text)
    return true
  }

  get size(): number {
    return this.awaited.size
  }
}

/**
 * What the controller reads off the service's snapshot at every render: users and groups by id
 * (built once per snapshot), and whether a message of mine is still on its way to the broker.
 */
import type { ChatSnapshot, GroupListing, UserListing } from "./chat-port.ts"

/** Acknowledgements remembered until the log's outbox catches up (it does within a batch or two). */
const MAX_PUBLISHED_REMEMBERED = 10_000

export class SnapshotView {
  private listings: { readonly of: ChatSnapshot; readonly users: Map<string, UserListing>; readonly groups: Map<string, GroupListing> } | null = null
  /** Ids of my messages the broker acknowledged in this run (the notice comes before the outbox is updated). */
  private readonly published = new Set<string>()

  private listingsOf(snapshot: ChatSnapshot) {
    if (this.listings?.of !== snapshot) {
      this.listings = { of: snapshot, users: new Map(snapshot.users.map((u) => [u.user, u])), groups: new Map(snapshot.groups.map((g) => [g.name, g])) }
    }
    return this.listings
  }

  user(snapshot: ChatSnapshot, user: string): UserListing | null {
    return this.listingsOf(snapshot).users.get(user) ?? null
  }

  group(snapshot: ChatSnapshot, group: string): GroupListing | null {
    return this.listingsOf(snapshot).groups.get(group) ?? null
  }

  /** The broker acknowledged my message `id` (QoS 1 PUBACK). */
  acknowledged(id: string): void {
    this.published.add(id)
    if (this.published.size > MAX_PUBLISHED_REMEMBERED) {
      const oldest = this.published.values().next().value
      if (oldest !== undefined) this.published.delete(oldest)
    }
  }

  /** My message is still on its way to the broker: in the outbox, and no acknowledgement seen yet. */
  isPending(snapshot: ChatSnapshot, id: string): boolean {
    return snapshot.unsent.has(id) && !this.published.has(id)
  }
}

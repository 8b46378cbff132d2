/**
 * The deliveries in flight, one FIFO queue per recipient (an MQTT persistent session holds a
 * user's messages while it is offline). Picking the oldest deliverable message, or a random one,
 * costs a pass over the users instead of a pass over every message in flight.
 */
import type { UserId } from "../../domain/ids.ts"
import type { Delivery } from "../../domain/sim/cluster.ts"
import { randomBelow, type Random } from "./workload.ts"

export interface InFlightDelivery {
  /** Arrival order in the network: "oldest" means the lowest. */
  readonly order: number
  readonly delivery: Delivery
}

/** Where a delivery sits: its recipient's queue and the position in it. */
export interface Slot {
  readonly to: UserId
  readonly index: number
}

export class InFlight {
  private readonly queues = new Map<UserId, Array<InFlightDelivery>>()
  private nextOrder = 0
  private count = 0

  /** `capacity`: more deliveries in flight than this is a message storm, reported as an error. */
  constructor(recipients: ReadonlyArray<UserId>, private readonly capacity: number) {
    for (const user of recipients) this.queues.set(user, [])
  }

  get size(): number {
    return this.count
  }

  push(delivery: Delivery): void {
    if (this.count >= this.capacity) throw new Error(`message storm: more than ${this.capacity} deliveries in flight`)
    const queue = this.queues.get(delivery.to)
    if (queue === undefined) throw new Error(`delivery to unknown user ${delivery.to}`)
    queue.push({ order: this.nextOrder++, delivery })
    this.count += 1
  }

  /** Deliveries whose recipient is online. */
  readyCount(isOnline: (user: UserId) => boolean): number {
    let ready = 0
    for (const [user, queue] of this.queues) if (isOnline(user)) ready += queue.length
    return ready
  }

  /** The oldest delivery to an online user: its queue's head with the lowest order. */
  oldestReady(isOnline: (user: UserId) => boolean): Slot | undefined {
    let best: Slot | undefined
    let bestOrder = Infinity
    for (const [user, queue] of this.queues) {
      const head = queue[0]
      if (head !== undefined && head.order < bestOrder && isOnline(user)) {
        best = { to: user, index: 0 }
        bestOrder = head.order
      }
    }
    return best
  }

  /** Any delivery to an online user, each equally likely. */
  randomReady(isOnline: (user: UserId) => boolean, random: Random): Slot | undefined {
    const ready = this.readyCount(isOnline)
    if (ready === 0) return undefined
    let roll = randomBelow(random, ready)
    for (const [user, queue] of this.queues) {
      if (!isOnline(user)) continue
      if (roll < queue.length) return { to: user, index: roll }
      roll -= queue.length
    }
    throw new Error("invariant: ready deliveries were counted but not found")
  }

  peek(slot: Slot): InFlightDelivery {
    const item = this.queues.get(slot.to)?.[slot.index]
    if (item === undefined) throw new Error(`invariant: no delivery at ${slot.to}[${slot.index}]`)
    return item
  }

  /** Removes the delivery: it arrives now and will not again. */
  take(slot: Slot): InFlightDelivery {
    const item = this.peek(slot)
    this.queues.get(slot.to)!.splice(slot.index, 1)
    this.count -= 1
    return item
  }

  /** Some delivery still in flight, for error messages. */
  anyOne(): Delivery | undefined {
    for (const queue of this.queues.values()) if (queue[0] !== undefined) return queue[0].delivery
    return undefined
  }
}

/**
 * An immutable map from strings to values whose `set` and `remove` cost O(log32 N), not a copy of
 * the whole map: the chat state is folded once per log record, and copying a 10,000-entry object
 * per record made a message's cost grow with the number of conversations (3 ms per copy, measured
 * in bench/flood.bench.ts). Backed by effect's HashMap (a HAMT); reads look like a ReadonlyMap.
 *
 * Iteration order is the HAMT's (deterministic for the same operations, not insertion order);
 * `toJSON` gives a plain object with sorted keys, so printed and compared states do not depend on it.
 */
import { HashMap, Option } from "effect"

export class PersistentMap<V> implements ReadonlyMap<string, V> {
  private static readonly EMPTY = new PersistentMap<never>(HashMap.empty<string, never>())

  private constructor(private readonly map: HashMap.HashMap<string, V>) {}

  static empty<V>(): PersistentMap<V> {
    return PersistentMap.EMPTY as PersistentMap<V>
  }

  static fromEntries<V>(entries: Iterable<readonly [string, V]>): PersistentMap<V> {
    return new PersistentMap(HashMap.fromIterable(entries))
  }

  get(key: string): V | undefined {
    return Option.getOrUndefined(HashMap.get(this.map, key))
  }

  has(key: string): boolean {
    return HashMap.has(this.map, key)
  }

  get size(): number {
    return HashMap.size(this.map)
  }

  set(key: string, value: V): PersistentMap<V> {
    return new PersistentMap(HashMap.set(this.map, key, value))
  }

  remove(key: string): PersistentMap<V> {
    if (!this.has(key)) return this
    return new PersistentMap(HashMap.remove(this.map, key))
  }

  /** `set` with the value `f` makes of the current one (undefined when absent). */
  update(key: string, f: (current: V | undefined) => V): PersistentMap<V> {
    return this.set(key, f(this.get(key)))
  }

  keys(): MapIterator<string> {
    return HashMap.keys(this.map) as MapIterator<string>
  }

  values(): MapIterator<V> {
    return HashMap.values(this.map) as MapIterator<V>
  }

  entries(): MapIterator<[string, V]> {
    return HashMap.entries(this.map) as MapIterator<[string, V]>
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries()
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [key, value] of this.entries()) callback(value, key, this)
  }

  /** The same map with every value passed through `f`. O(N). */
  mapValues<B>(f: (value: V, key: string) => B): Record<string, B> {
    const out: Record<string, B> = {}
    for (const key of [...this.keys()].sort()) out[key] = f(this.get(key) as V, key)
    return out
  }

  /** Plain JSON, keys sorted: what the replay tool prints and tests compare. */
  toJSON(): Record<string, V> {
    return this.mapValues((value) => value)
  }
}

/**
 * A short name for a shape: a 64-bit FNV-1a hash of strings (or of values as JSON). Not a security
 * measure — it only tells a snapshot of this code's state shape from another's (state-codec.ts). Pure.
 */

const describePart = (part: unknown): string => (typeof part === "string" ? part : JSON.stringify(part) ?? String(part))

/** FNV-1a 64: offset basis 0xcbf29ce484222325, prime 2^40 + 0x1b3. */
const OFFSET_HIGH = 0xcbf29ce4
const OFFSET_LOW = 0x84222325

/** Hex of the FNV-1a hash of every part's description, in order. */
export const fingerprintOf = (parts: ReadonlyArray<unknown>): string => {
  // Two unsigned 32-bit halves of the 64-bit hash, kept in numbers: BigInt per character is slow.
  let low = OFFSET_LOW
  let high = OFFSET_HIGH
  for (const part of parts) {
    const text = `${describePart(part)}\u0000`
    for (let i = 0; i < text.length; i++) {
      low = (low ^ text.charCodeAt(i)) >>> 0
      // (high:low) * (2^40 + 0x1b3) mod 2^64; every product stays below 2^53.
      const lowTimes = low * 0x1b3
      const carry = Math.floor(lowTimes / 0x100000000)
      const newLow = lowTimes >>> 0
      const newHigh = (high * 0x1b3 + carry + ((low << 8) >>> 0)) >>> 0
      low = newLow
      high = newHigh
    }
  }
  return `${high.toString(16).padStart(8, "0")}${low.toString(16).padStart(8, "0")}`
}

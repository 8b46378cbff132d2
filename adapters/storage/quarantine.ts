/**
 * `events.quarantine`: byte-exact copies of the log bytes that failed validation, so that nothing
 * is ever dropped silently. Each entry is a header line then the raw bytes then a newline:
 *
 *     quarantine v1 offset=<n> length=<n> reason=<r> crc32=<hex> kind=<middle|tail> at=<iso>\n<bytes>\n
 *
 * Corruption in the middle stays in the log (the records around it are kept, and its bytes explain
 * the gap in the sequence), so it is found again at every open: entries already quarantined,
 * recognised by offset, length and checksum, are not copied twice.
 */
import * as fs from "node:fs"
import { crc32 } from "./record-codec.ts"
import type { CorruptRegion } from "./log-scan.ts"

export type QuarantineKind = "middle" | "tail"

const COPY_CHUNK_BYTES = 1024 * 1024
const MAX_HEADER_BYTES = 512
const HEADER = /^quarantine v1 offset=(\d+) length=(\d+) reason=([a-z-]+) crc32=([0-9a-f]{8}) kind=(middle|tail) at=\S+$/

const entryKey = (offset: number, length: number, checksum: string): string => `${offset}:${length}:${checksum}`

const hex8 = (value: number): string => value.toString(16).padStart(8, "0")

/** Reads `length` bytes at `offset`, or throws: a short read of a region we just scanned is an error. */
const readExactly = (fd: number, offset: number, length: number): Buffer => {
  const buffer = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const read = fs.readSync(fd, buffer, done, length - done, offset + done)
    if (read === 0) throw new Error(`unexpected end of file at ${offset + done}`)
    done += read
  }
  return buffer
}

/** CRC of a region of the log, read in chunks (a garbage tail can be large). */
const regionChecksum = (logFd: number, region: CorruptRegion): string => {
  let crc = 0
  for (let done = 0; done < region.length; ) {
    const length = Math.min(COPY_CHUNK_BYTES, region.length - done)
    crc = crc32(readExactly(logFd, region.offset + done, length), crc)
    done += length
  }
  return hex8(crc)
}

/** The entries a quarantine file already holds. Stops at the first malformed header. */
const existingEntries = (path: string): Set<string> => {
  const keys = new Set<string>()
  let fd: number
  try {
    fd = fs.openSync(path, "r")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return keys
    throw error
  }
  try {
    const size = fs.fstatSync(fd).size
    const header = Buffer.alloc(MAX_HEADER_BYTES)
    let position = 0
    // Every entry is at least a header and a newline, so the walk ends within size/2 turns.
    while (position < size) {
      const read = fs.readSync(fd, header, 0, MAX_HEADER_BYTES, position)
      const newline = header.subarray(0, read).indexOf(0x0a)
      if (newline < 0) break
      const match = HEADER.exec(header.subarray(0, newline).toString("latin1"))
      if (match === null) break
      const offset = Number(match[1])
      const length = Number(match[2])
      keys.add(entryKey(offset, length, match[4]!))
      position += newline + 1 + length + 1
    }
  } finally {
    fs.closeSync(fd)
  }
  return keys
}

/**
 * Appends copies of `regions` of the log to the quarantine file and fsyncs it. Returns whether the
 * file was created (the caller then fsyncs the directory). Synchronous: it runs once, at open,
 * and only when something is wrong.
 */
export const quarantineRegions = (
  quarantinePath: string,
  logFd: number,
  regions: ReadonlyArray<CorruptRegion>,
  kind: QuarantineKind,
): { readonly created: boolean } => {
  if (regions.length === 0) return { created: false }
  const known = existingEntries(quarantinePath)
  const created = !fs.existsSync(quarantinePath)
  const out = fs.openSync(quarantinePath, "a", 0o600)
  try {
    for (const region of regions) {
      const checksum = regionChecksum(logFd, region)
      if (known.has(entryKey(region.offset, region.length, checksum))) continue
      const at = new Date().toISOString()
      fs.writeSync(
        out,
        `quarantine v1 offset=${region.offset} length=${region.length} reason=${region.reason} crc32=${checksum} kind=${kind} at=${at}\n`,
      )
      for (let done = 0; done < region.length; ) {
        const length = Math.min(COPY_CHUNK_BYTES, region.length - done)
        writeAll(out, readExactly(logFd, region.offset + done, length))
        done += length
      }
      fs.writeSync(out, "\n")
      known.add(entryKey(region.offset, region.length, checksum))
    }
    fs.fsyncSync(out)
  } finally {
    fs.closeSync(out)
  }
  return { created }
}

const writeAll = (fd: number, bytes: Buffer): void => {
  let done = 0
  while (done < bytes.length) {
    const written = fs.writeSync(fd, bytes, done, bytes.length - done)
    if (written <= 0) throw new Error("write made no progress")
    done += written
  }
}

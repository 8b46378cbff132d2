/**
 * Writing `events.snapshot` (format: snapshot-format.ts, described in snapshot-file.ts): the bytes
 * in file order, each index block's CRC-32 and span for the header, and the atomic replacement.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { crc32 } from "./record-codec.ts"
import { blocksOf, bytesOf, hex8, INDEX_BLOCK, littleEndian, MAGIC, padded, SNAPSHOT_FILE, TEMP_FILE, WRITE_CHUNK_BYTES } from "./snapshot-format.ts"
import type { IndexSection, SnapshotContents, SnapshotHeader } from "./snapshot-format.ts"

/** Conversation i's part: its seqs, offsets, lengths and padding, in file order. */
const indexPart = (index: IndexSection, i: number): ReadonlyArray<Uint8Array> => {
  const arrays = [index.seqs[i]!, index.offsets[i]!, index.lengths[i]!].map(bytesOf)
  const used = arrays.reduce((sum, bytes) => sum + bytes.length, 0)
  return [...arrays, new Uint8Array(padded(used) - used)]
}


/** Per block of `arrays`: the CRC-32 of its seqs, offsets and lengths, its first and last seq. */
const blockSums = (seqs: Float64Array, offsets: Float64Array, lengths: Uint32Array): Array<readonly [number, number, number]> => {
  const sums: Array<readonly [number, number, number]> = []
  for (let b = 0; b < blocksOf(seqs.length); b++) {
    const from = b * INDEX_BLOCK
    const to = Math.min(seqs.length, from + INDEX_BLOCK)
    const crc = [seqs.subarray(from, to), offsets.subarray(from, to), lengths.subarray(from, to)].reduce((sum, array) => crc32(bytesOf(array), sum), 0)
    sums.push([crc, seqs[from]!, seqs[to - 1]!])
  }
  return sums
}

const entriesOf = (parts: ReadonlyArray<Float64Array | Uint32Array>): number => parts.reduce((sum, part) => sum + part.length, 0)

/** The snapshot as bytes, in the order they go to the file. */
const encodeSnapshot = (contents: SnapshotContents): ReadonlyArray<Uint8Array> => {
  const state = Buffer.from(contents.state, "utf8")
  const { index } = contents
  const entries = entriesOf(index.seqs)
  if (entriesOf(index.offsets) !== entries || entriesOf(index.lengths) !== entries) throw new Error("invariant: index arrays of different lengths")
  if (index.topics.reduce((sum, [, count]) => sum + count, 0) !== entries) throw new Error("invariant: index topics do not add up")
  index.topics.forEach(([, count], i) => {
    if (index.seqs[i]!.length !== count || index.offsets[i]!.length !== count || index.lengths[i]!.length !== count) throw new Error("invariant: an index part's arrays are not its count long")
  })
  const parts = index.topics.map((_, i) => indexPart(index, i))
  const header: SnapshotHeader = {
    ...contents.header,
    stateBytes: state.length,
    stateCrc: crc32(state),
    topics: index.topics.map(([topic, count], i) => [topic, count, blockSums(index.seqs[i]!, index.offsets[i]!, index.lengths[i]!)] as const),
  }
  const headerJson = Buffer.from(JSON.stringify(header), "utf8")
  const head = Buffer.from(`${MAGIC}${hex8(crc32(headerJson))} ${headerJson.toString("utf8")}\n`, "utf8")
  // The index starts on a multiple of 8 from the file's start: the reader's arrays are views.
  const padding = new Uint8Array(padded(head.length + state.length) - head.length - state.length)
  return [head, state, padding, ...parts.flat()]
}

const writeAll = async (handle: fs.promises.FileHandle, bytes: Uint8Array): Promise<void> => {
  // Each turn writes at least one byte or throws: at most bytes.length turns.
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, done, Math.min(WRITE_CHUNK_BYTES, bytes.length - done))
    if (bytesWritten <= 0) throw new Error("snapshot write made no progress")
    done += bytesWritten
  }
}

/** Replaces the snapshot in `dir` atomically: a crash leaves the old one or the new one, whole. */
export const writeSnapshot = async (dir: string, contents: SnapshotContents): Promise<number> => {
  if (!littleEndian) throw new Error("snapshots are written on little-endian machines only")
  const parts = encodeSnapshot(contents)
  const temp = path.join(dir, TEMP_FILE)
  const handle = await fs.promises.open(temp, "w", 0o600)
  let bytes = 0
  try {
    for (const part of parts) {
      await writeAll(handle, part)
      bytes += part.length
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
  await fs.promises.rename(temp, path.join(dir, SNAPSHOT_FILE))
  const dirHandle = await fs.promises.open(dir, "r")
  try {
    await dirHandle.sync()
  } finally {
    await dirHandle.close()
  }
  return bytes
}

/** Removes the snapshot (tests, and a profile whose snapshot must not be trusted again). */
export const removeSnapshot = (dir: string): void => {
  fs.rmSync(path.join(dir, SNAPSHOT_FILE), { force: true })
  fs.rmSync(path.join(dir, TEMP_FILE), { force: true })
}

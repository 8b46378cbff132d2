/**
 * A conversation's index restored from a snapshot is paged: its blocks are read, each checked, as
 * its history is read (conversation-index.ts, snapshot-file.ts). Here: a paged index answers as the
 * same index in memory does, keeps few blocks, and one that meets a bad block rebuilds itself from
 * the fallback and says so (IndexRebuilt, once); and the file's blocks, read one by one from a
 * snapshot of 40,000 entries, each catch a flipped byte of their own and only of their own.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Result } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { ConversationIndex, IndexRebuilt, readRetryingRebuilt } from "../../adapters/storage/conversation-index.ts"
import type { IndexArrays, IndexPages } from "../../adapters/storage/conversation-index.ts"
import { INDEX_BLOCK, openSnapshot, readIndexBlock, readIndexPart, SNAPSHOT_FILE, writeSnapshot } from "../../adapters/storage/snapshot-file.ts"
import { ALICE_BOB, ALICE_CAROL, removeDir, tempProfileDir } from "../support/log-fixtures.ts"

const dirs: Array<string> = []
afterAll(() => dirs.forEach(removeDir))

/** Entries 0..n-1: seq 3i+1, offset 100i, length 50. */
const arrays = (n: number): IndexArrays => ({
  seqs: Float64Array.from({ length: n }, (_, i) => 3 * i + 1),
  offsets: Float64Array.from({ length: n }, (_, i) => 100 * i),
  lengths: Uint32Array.from({ length: n }, () => 50),
})
const slice = (a: IndexArrays, from: number, to: number): IndexArrays => ({ seqs: a.seqs.subarray(from, to), offsets: a.offsets.subarray(from, to), lengths: a.lengths.subarray(from, to) })

/** Fake pages over `n` entries in blocks of `blockSize`; `bad` blocks fail; counts what was read. */
const fakePages = (n: number, blockSize: number, bad: ReadonlySet<number> = new Set()) => {
  const all = arrays(n)
  const reads: Array<number | "all" | "scan"> = []
  const pages: IndexPages = {
    count: n,
    lastSeq: all.seqs[n - 1]!,
    blockSize,
    block: (b) => {
      reads.push(b)
      return bad.has(b) ? Result.fail(`block ${b} is bad`) : Result.succeed(slice(all, b * blockSize, Math.min(n, (b + 1) * blockSize)))
    },
    all: () => {
      reads.push("all")
      return bad.size > 0 ? Result.fail("a block is bad") : Result.succeed(all)
    },
    scan: () => {
      reads.push("scan")
      return ConversationIndex.fromArrays(all.seqs, all.offsets, all.lengths, Number.MAX_SAFE_INTEGER)
    },
  }
  return { pages, reads }
}

const entries = (index: ConversationIndex) => Array.from({ length: index.size }, (_, i) => index.entryAt(i))

describe("a paged conversation index", () => {
  it("answers as the index in memory does, reading only the blocks asked for, at most 8 kept", () => {
    const n = 103
    const { pages, reads } = fakePages(n, 4)
    const paged = ConversationIndex.paged(pages)
    const all = arrays(n)
    const memory = ConversationIndex.fromArrays(Float64Array.from(all.seqs), Float64Array.from(all.offsets), Uint32Array.from(all.lengths), Number.MAX_SAFE_INTEGER)
    expect(paged.size).toBe(n)
    expect(reads).toEqual([])
    // The newest 3 entries: one block (the last, of 3 entries).
    expect([100, 101, 102].map((i) => paged.entryAt(i))).toEqual([100, 101, 102].map((i) => memory.entryAt(i)))
    expect(reads).toEqual([25])
    expect(paged.seqAt(0)).toBe(1)
    expect(entries(paged)).toEqual(entries(memory))
    // Every block in order, then block 0 again: it was dropped (8 kept), so read a second time.
    expect(reads.filter((r) => r === 0).length).toBe(1)
    paged.entryAt(0)
    expect(reads.filter((r) => r === 0).length).toBe(2)
    expect(paged.loaded).toBe(false)
    // Appended after the snapshot: follows its entries; out of order is refused.
    paged.add({ seq: 1000, offset: 1, length: 2 })
    expect(() => paged.add({ seq: 999, offset: 1, length: 2 })).toThrow(/invariant/)
    expect(paged.size).toBe(n + 1)
    expect(paged.entryAt(n)).toEqual({ seq: 1000, offset: 1, length: 2 })
    // A snapshot needs all of it: read whole, once, then in memory.
    expect(paged.countUpTo(1000)).toBe(n + 1)
    expect(paged.loaded).toBe(true)
    expect(reads.filter((r) => r === "all").length).toBe(1)
    expect(entries(paged)).toEqual([...entries(memory), { seq: 1000, offset: 1, length: 2 }])
  })

  it("a bad block: rebuilt from the scan, IndexRebuilt once, then the same answers; entries added before are kept", () => {
    const n = 40
    const { pages, reads } = fakePages(n, 4, new Set([9]))
    const paged = ConversationIndex.paged(pages)
    paged.add({ seq: 500, offset: 7, length: 9 })
    expect(paged.entryAt(0).seq).toBe(1)
    expect(() => paged.entryAt(38)).toThrow(IndexRebuilt)
    expect(reads).toEqual([0, 9, "scan"])
    expect(paged.loaded).toBe(true)
    expect(paged.size).toBe(n + 1)
    expect(paged.entryAt(38)).toEqual({ seq: 3 * 38 + 1, offset: 3800, length: 50 })
    expect(paged.entryAt(n)).toEqual({ seq: 500, offset: 7, length: 9 })
    // What the history does: read again once.
    const again = ConversationIndex.paged(fakePages(n, 4, new Set([9])).pages)
    expect(readRetryingRebuilt(() => again.entryAt(37).seq)).toBe(3 * 37 + 1)
  })

  it("a bad block met when all is needed: scanned instead, no throw", () => {
    const { pages, reads } = fakePages(20, 4, new Set([2]))
    const paged = ConversationIndex.paged(pages)
    expect(paged.viewsUpTo(1000).seqs.length).toBe(20)
    expect(reads).toEqual(["all", "scan"])
  })
})

describe("the snapshot file's index blocks", () => {
  const N = 2 * INDEX_BLOCK + 1234
  const written = async () => {
    const dir = tempProfileDir("snapshot-blocks")
    dirs.push(dir)
    const big = arrays(N)
    const small = arrays(5)
    await writeSnapshot(dir, {
      header: { seq: 1e6, offset: 1e8, length: 60, lineCrc: 1, records: 1e6, corrupt: [] },
      state: "{}",
      index: { topics: [[ALICE_CAROL, 5], [ALICE_BOB, N]], seqs: [small.seqs, big.seqs], offsets: [small.offsets, big.offsets], lengths: [small.lengths, big.lengths] },
    })
    const opened = openSnapshot(dir)
    if (opened._tag !== "opened") throw new Error(opened._tag)
    return { dir, opened: opened.snapshot, big }
  }

  it("each block reads back as written, with its span in the header", async () => {
    const { dir, opened, big } = await written()
    const part = opened.parts.find((p) => p.topic === ALICE_BOB)!
    expect(part.blocks.length).toBe(3)
    expect(part.blocks.map(([, first, last]) => [first, last])).toEqual([[1, 3 * (INDEX_BLOCK - 1) + 1], [3 * INDEX_BLOCK + 1, 3 * (2 * INDEX_BLOCK - 1) + 1], [3 * 2 * INDEX_BLOCK + 1, 3 * (N - 1) + 1]])
    for (let b = 0; b < 3; b++) {
      const read = readIndexBlock(dir, opened, part, b)
      if (Result.isFailure(read)) throw new Error(read.failure)
      expect(read.success).toEqual(slice(big, b * INDEX_BLOCK, Math.min(N, (b + 1) * INDEX_BLOCK)))
    }
    const whole = readIndexPart(dir, opened, part)
    if (Result.isFailure(whole)) throw new Error(whole.failure)
    expect(whole.success).toEqual(big)
  })

  it("a flipped byte in the seqs, offsets or lengths of one block fails that block only (and the whole part)", async () => {
    const { dir, opened: first } = await written()
    const part = first.parts.find((p) => p.topic === ALICE_BOB)!
    const file = path.join(dir, SNAPSHOT_FILE)
    const good = fs.readFileSync(file)
    /** Writes `bytes` and opens the snapshot again (its header is intact): only the blocks' checksums can tell. */
    const reopenedWith = (bytes: Buffer) => {
      fs.writeFileSync(file, bytes)
      const opened = openSnapshot(dir)
      if (opened._tag !== "opened") throw new Error(opened._tag)
      return opened.snapshot
    }
    let failures = 0
    for (const [array, width] of [[0, 8], [1, 8], [2, 4]] as const) {
      for (const b of [0, 1, 2]) {
        const at = part.position + array * 8 * part.count + (b * INDEX_BLOCK + 17) * width
        const bytes = Buffer.from(good)
        bytes[at] = bytes[at]! ^ 0x20
        const opened = reopenedWith(bytes)
        const outcomes = [0, 1, 2].map((k) => Result.isSuccess(readIndexBlock(dir, opened, part, k)))
        expect(outcomes).toEqual([0, 1, 2].map((k) => k !== b))
        const whole = readIndexPart(dir, opened, part)
        expect(Result.isFailure(whole) && /checksum of .* does not match \(block \d\)/.test(whole.failure)).toBe(true)
        failures++
      }
    }
    expect(failures).toBe(9)
    expect(Result.isSuccess(readIndexBlock(dir, reopenedWith(good), part, 1))).toBe(true)
    // The file changed since it was opened: refused, whatever the block.
    expect(readIndexBlock(dir, first, part, 1)).toEqual(Result.fail(`${SNAPSHOT_FILE} was replaced since it was opened`))
  })
})

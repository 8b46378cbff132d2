import { performance } from "node:perf_hooks"
import { readSnapshot } from "../adapters/storage/snapshot-file.ts"
import { decodeFoldedProfile } from "../domain/snapshot/state-codec.ts"
const dir = process.argv[2]!
for (let i = 0; i < 3; i++) {
let t = performance.now()
const r = readSnapshot(dir)
const t1 = performance.now() - t
if (r._tag !== "read") throw new Error(r._tag)
t = performance.now()
const parsed = JSON.parse(r.contents.state)
const t2 = performance.now() - t
t = performance.now()
const d = decodeFoldedProfile(r.contents.state)
const t3 = performance.now() - t
console.log({ read: t1, parse: t2, decodeAll: t3, ok: d._tag, len: r.contents.state.length })
}

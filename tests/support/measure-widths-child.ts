/**
 * Asks the terminal it runs in how wide each sample is: writes it at the start of the first row,
 * asks for the cursor position (CSI 6n) and records the column the cursor went to. The terminal's
 * answer is the truth the width model (adapters/tui/unicode-width.ts) is compared against.
 *   tsx tests/support/measure-widths-child.ts <samples.json> <widths.json>
 * Bounded: one answer per sample, and the whole run gives up after 20 s.
 */
import { readFileSync, writeFileSync } from "node:fs"

const [samplesFile, widthsFile] = process.argv.slice(2)
if (samplesFile === undefined || widthsFile === undefined) {
  console.error("usage: measure-widths-child.ts <samples.json> <widths.json>")
  process.exit(2)
}
const samples: ReadonlyArray<string> = JSON.parse(readFileSync(samplesFile, "utf8"))
const giveUp = setTimeout(() => process.exit(3), 20_000)
process.stdin.setRawMode(true)
let pending = ""
let answer: ((column: number) => void) | null = null
process.stdin.on("data", (data: Buffer) => {
  pending += data.toString("latin1")
  const report = /\u001b\[(\d+);(\d+)R/.exec(pending)
  if (report === null) return
  pending = pending.slice(report.index + report[0].length)
  answer?.(Number(report[2]) - 1)
})
const widths: number[] = []
for (const sample of samples) {
  const column = new Promise<number>((resolve) => {
    answer = resolve
  })
  process.stdout.write(`\u001b[H\u001b[2K${sample}\u001b[6n`)
  widths.push(await column)
}
writeFileSync(widthsFile, JSON.stringify(widths))
clearTimeout(giveUp)
process.stdout.write("\u001b[H\u001b[2Kmeasured\n")
process.exit(0)

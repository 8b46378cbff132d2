/**
 * The simulator's command line: bad input is refused with exit code 2 and one line saying why;
 * --help explains; a run prints the report, byte-identical per seed with --no-timing.
 */
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { parseSimOptions } from "../../apps/sim/options.ts"
import { runProgram, type Ran } from "../support/run-program.ts"

const ROOT = path.join(import.meta.dirname, "..", "..")
const MAIN = path.join(ROOT, "apps", "sim", "main.ts")

/** Runs the simulator as a user would (through tsx), bounded in time. */
const runSim = (args: ReadonlyArray<string>): Promise<Ran> => runProgram(MAIN, args, { cwd: ROOT })

const BAD_INPUT: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
  [["--users", "1"], /^sim: --users must be from 2 to 500, not 1\n$/],
  [["--steps", "12abc"], /^sim: --steps must be an integer from 1 to 1000000, not "12abc"\n$/],
  [["--reorder", "1.5"], /^sim: --reorder must be a probability from 0 to 1, not "1.5"\n$/],
  [["--seed"], /^sim: --seed needs a value\n$/],
  [["--frobnicate"], /^sim: unknown option "--frobnicate" \(see --help\)\n$/],
]

describe("sim command line", () => {
  it("refuses bad input with exit code 2 and a one-line reason", async () => {
    const runs = await Promise.all(BAD_INPUT.map(([args]) => runSim(args)))
    runs.forEach((ran, i) => {
      expect(ran.code, BAD_INPUT[i]![0].join(" ")).toBe(2)
      expect(ran.stderr).toMatch(BAD_INPUT[i]![1])
      expect(ran.stdout).toBe("")
    })
  })

  it("explains itself with --help, and prints the same report twice for one seed", async () => {
    const args = ["--seed", "7", "--users", "4", "--steps", "400", "--no-timing"]
    const [help, first, second] = await Promise.all([runSim(["--help"]), runSim(args), runSim(args)])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/--seed N/)
    expect(first.stdout).toMatch(/^mqtt-chat simulation: seed 7, 4 users, 400 steps/)
    // Exit 0 when the invariants hold, 1 with the verdict when one fails (see sim-simulation.test.ts).
    expect(first.code).toBe(first.stdout.includes("\nall invariants hold\n") ? 0 : 1)
    expect(first.stdout).toMatch(/\n(all invariants hold|INVARIANT FAILED \(seed 7\): .+)\n$/)
    expect(first.stdout).not.toMatch(/events\/s/)
    expect(second.stdout).toBe(first.stdout)
    expect(second.code).toBe(first.code)
  })

  it("parses every option, in both spellings, and each mistake", () => {
    const parsed = parseSimOptions(["--seed=9", "--users", "12", "--steps", "100", "--duplicate", "0", "--reorder", ".5", "--offline", "1", "--crash", "0.25", "--lose", "0.125", "--partition", "0.5", "--json", "--no-timing", "--logs", "out"])
    expect(parsed).toEqual({
      kind: "run",
      options: { seed: 9, users: 12, steps: 100, duplicate: 0, reorder: 0.5, offline: 1, crash: 0.25, lose: 0.125, partition: 0.5, json: true, timing: false, logsDir: "out" },
    })
    expect(parseSimOptions(["--seed", "4294967296"])).toMatchObject({ kind: "error" })
    expect(parseSimOptions(["--steps", "-5"])).toMatchObject({ kind: "error" })
    expect(parseSimOptions(["--duplicate", "NaN"])).toMatchObject({ kind: "error" })
    expect(parseSimOptions(["--users", "2", "--users", "3"])).toMatchObject({ kind: "error", message: "--users given twice" })
    expect(parseSimOptions(["--json", "--json"])).toMatchObject({ kind: "error" })
    expect(parseSimOptions(["stray"])).toMatchObject({ kind: "error" })
  })
})

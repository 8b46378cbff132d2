/** Entry of `npm run broker` (dist/broker.mjs): see cli.ts. */
import { brokerMain } from "./cli.ts"

brokerMain(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`mqtt-chat broker: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  },
)

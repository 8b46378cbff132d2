import { aedesKind } from "../support/brokers.ts"
import { chatSuite } from "./chat.suite.ts"

chatSuite(aedesKind)

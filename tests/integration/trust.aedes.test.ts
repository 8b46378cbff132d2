import { aedesKind } from "../support/brokers.ts"
import { trustSuite } from "./trust.suite.ts"

trustSuite(aedesKind)

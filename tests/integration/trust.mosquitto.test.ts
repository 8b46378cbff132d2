import { mosquittoKind } from "../support/brokers.ts"
import { trustSuite } from "./trust.suite.ts"

trustSuite(mosquittoKind)

import { lockedAedesKind } from "../support/locked-brokers.ts"
import { lockedBrokerSuite } from "./locked-broker.suite.ts"

lockedBrokerSuite(lockedAedesKind)

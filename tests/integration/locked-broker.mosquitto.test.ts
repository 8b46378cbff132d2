import { lockedMosquittoKind } from "../support/locked-brokers.ts"
import { lockedBrokerSuite } from "./locked-broker.suite.ts"

// Skipped when Mosquitto is not installed, except under CI, where that is a failure.
lockedBrokerSuite(lockedMosquittoKind)

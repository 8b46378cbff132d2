import { mosquittoKind } from "../support/brokers.ts"
import { transportContract } from "./transport.contract.ts"

// Skipped when Mosquitto is not installed, except under CI, where that is a failure.
transportContract(mosquittoKind.name, mosquittoKind.start, { skip: mosquittoKind.skip })

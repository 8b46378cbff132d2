import { mosquittoKind } from "../support/brokers.ts"
import { chatSuite } from "./chat.suite.ts"

chatSuite(mosquittoKind)

import { aedesKind } from "../support/brokers.ts"
import { transportContract } from "./transport.contract.ts"

transportContract(aedesKind.name, aedesKind.start, { skip: aedesKind.skip })

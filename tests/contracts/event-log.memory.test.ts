import { MemoryEventLog } from "../../adapters/storage/memory-event-log.ts"
import { eventLogContract } from "./event-log.contract.ts"

eventLogContract("MemoryEventLog", () => MemoryEventLog.layer)

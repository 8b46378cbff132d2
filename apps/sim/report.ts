/** The simulation report as tables or as JSON. Both are deterministic except the timing rows. */
import type { Count, SimReport } from "./simulation.ts"
import { formatNumber, renderTable, type Cell } from "./text-table.ts"

/** Rejection and drop reasons shown in the table; the JSON has them all. */
export const TOP_REASONS = 5
/** Reasons are cut in the table so it fits a terminal; the JSON has them whole. */
const REASON_WIDTH = 60

const percent = (part: number, whole: number): string => (whole === 0 ? "-" : `${formatNumber((100 * part) / whole, 1)}%`)

const cut = (text: string): string => (text.length > REASON_WIDTH ? `${text.slice(0, REASON_WIDTH - 1)}…` : text)

const countRows = (section: string, counts: ReadonlyArray<Count>, whole: number, limit: number): Array<Array<Cell>> => {
  const shown = counts.slice(0, limit)
  const rest = counts.slice(limit).reduce((sum, c) => sum + c.count, 0)
  const rows: Array<Array<Cell>> = shown.map((c, i) => [i === 0 ? section : "", `  ${cut(c.label)}`, c.count, percent(c.count, whole)])
  if (rest > 0) rows.push(["", `  (${counts.length - limit} others)`, rest, percent(rest, whole)])
  return rows
}

export const formatReportTable = (report: SimReport): string => {
  const { options: o, commands, deliveries, records, timing, messages } = report
  const title =
    `mqtt-chat simulation: seed ${o.seed}, ${o.users} users, ${o.steps} steps, ` +
    `duplicate ${o.duplicate}, reorder ${o.reorder}, offline ${o.offline}, crash ${o.crash}, partition ${o.partition}, lose ${o.lose}`
  const droppedTotal = deliveries.droppedByReason.reduce((sum, c) => sum + c.count, 0)
  const rows: Array<Array<Cell>> = [
    ["users", "virtual users", report.users.total, ""],
    ["", "offline spells (chat closed)", report.users.offlineSpells, ""],
    ["", "partitions (network lost, chat running)", report.users.partitions, ""],
    ["", "crashes, restarted from the log", report.users.crashes, ""],
    ["", "of which between store and publish", report.users.crashesBetweenStoreAndPublish, ""],
    ["messages", "sent", messages.sent, ""],
    ["", "delivered (shown to a reader)", messages.delivered, percent(messages.delivered, messages.due)],
    ["", "due to readers", messages.due, ""],
    ["", "missing", messages.missing, percent(messages.missing, messages.due)],
    ["commands", "total", commands.total, ""],
    ["", "accepted", commands.accepted, percent(commands.accepted, commands.total)],
    ["", "rejected", commands.rejected, percent(commands.rejected, commands.total)],
    ...countRows("accepted, by kind", commands.acceptedByKind, commands.accepted, commands.acceptedByKind.length),
    ...countRows(`rejected, top ${TOP_REASONS}`, commands.rejectedByReason, commands.rejected, TOP_REASONS),
    ["deliveries", "total", deliveries.total, ""],
    ["", "duplicated", deliveries.duplicated, percent(deliveries.duplicated, deliveries.total)],
    ["", "reordered", deliveries.reordered, percent(deliveries.reordered, deliveries.total)],
    ["", "lost by the broker (--lose)", deliveries.lostByTheBroker, ""],
    ["", "peak waiting at the broker", deliveries.peakWaiting, ""],
    ...countRows(`dropped by the services, top ${TOP_REASONS}`, deliveries.droppedByReason, droppedTotal, TOP_REASONS),
    ["records", "total", records.total, ""],
    ["", "per user, fewest", records.perUserMin, ""],
    ["", "per user, most", records.perUserMax, ""],
    ["time", "steps", report.steps, ""],
    ["", "simulated minutes", formatNumber(report.simulatedMs / 60_000, 1), ""],
    ...(timing === undefined ? [] : [
      ["", "wall clock ms", formatNumber(timing.elapsedMs, 0), ""],
      ["", "events/s (commands + deliveries)", timing.eventsPerSecond, ""],
    ]),
  ]
  const invariants = renderTable(
    report.invariants.map((invariant) => [invariant.name, invariant.ok ? "OK" : "FAILED", invariant.detail]),
    { headers: ["invariant", "result", "detail"] },
  )
  const verdict = report.interruptedAtStep !== undefined
    ? `INTERRUPTED at step ${report.interruptedAtStep} of ${o.steps}: invariants not checked (seed ${o.seed})`
    : report.ok ? "all invariants hold" : `INVARIANT FAILED (seed ${o.seed}): ${report.invariants.filter((i) => !i.ok).map((i) => i.name).join(", ")}`
  return `${renderTable(rows, { title, headers: ["", "", "count", "share"] })}\n\n${invariants}\n\n${verdict}\n`
}

export const formatReportJson = (report: SimReport): string => `${JSON.stringify(report, null, 2)}\n`

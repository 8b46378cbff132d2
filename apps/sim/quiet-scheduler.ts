/** The scheduler the simulation world runs on (apps/sim/harness.ts): it knows when every fiber is idle. */
import { Scheduler } from "effect"

/**
 * Effect's scheduler, with one shared queue and a count of the tasks queued and not yet run: when
 * the fiber asking finds the count at zero, every other fiber is suspended (on a queue, a deferred
 * or a TestClock sleep). One queue for every fiber also fixes the order in which they run.
 */
export class QuietScheduler implements Scheduler.Scheduler {
  readonly executionMode = "async" as const
  private readonly inner = new Scheduler.MixedScheduler("async")
  private readonly dispatcher = this.inner.makeDispatcher()
  pending = 0
  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]): boolean {
    return this.inner.shouldYield(fiber)
  }
  makeDispatcher(): Scheduler.SchedulerDispatcher {
    return {
      scheduleTask: (task, priority) => {
        this.pending += 1
        this.dispatcher.scheduleTask(() => {
          this.pending -= 1
          task()
        }, priority)
      },
      flush: () => this.dispatcher.flush(),
    }
  }
}


/**
 * `transition(machine, snapshot, event)` without its fixed cost. XState's pure `transition` builds
 * an inert actor scope on every call, and that means creating an actor, which computes the
 * machine's initial snapshot (its context factory, its entry) only to throw it away: three
 * quarters of a transition's time in the fold of a log (measured: bench/replay.bench.ts).
 *
 * Here each machine gets one inert scope, made once, and each call only swaps in a fresh list for
 * the actions. The scope is what XState's own `createInertActorScope` builds (no logger, no
 * deferred work, no emitted events, no children). That is sound for the machines of this project,
 * which only assign and name actions (`send.*`, `publish.*`) for the caller to carry out: they
 * spawn nothing, invoke nothing, schedule nothing and raise nothing, so no call leaves anything in
 * the shared scope for the next one. tests/unit/machine-step.test.ts checks that it gives exactly
 * what `transition` gives, on every record of simulated logs.
 */
import { createActor } from "xstate"
import type { ActorScope, AnyStateMachine, EventFromLogic, SnapshotFrom } from "xstate"

/** An action as `transition` returns it: the named action's type and params (assign is already applied). */
export type ExecutableAction = Parameters<ActorScope<never, never>["actionExecutor"]>[0]

interface Scope {
  readonly scope: ActorScope<never, never>
  actions: Array<ExecutableAction>
}

const scopes = new WeakMap<AnyStateMachine, Scope>()

const scopeOf = (machine: AnyStateMachine): Scope => {
  const known = scopes.get(machine)
  if (known !== undefined) return known
  const self = createActor(machine)
  const entry: Scope = {
    actions: [],
    scope: {
      self: self as never,
      id: "",
      sessionId: "",
      logger: () => {},
      defer: () => {},
      emit: () => {},
      system: self.system,
      stopChild: () => {},
      actionExecutor: (action) => {
        entry.actions.push(action)
      },
    },
  }
  scopes.set(machine, entry)
  return entry
}

/** The same result as xstate's `transition(machine, snapshot, event)`: the next snapshot and the actions. */
export const stepMachine = <M extends AnyStateMachine>(
  machine: M,
  snapshot: SnapshotFrom<M>,
  event: EventFromLogic<M>,
): [SnapshotFrom<M>, Array<ExecutableAction>] => {
  const entry = scopeOf(machine)
  const actions: Array<ExecutableAction> = []
  entry.actions = actions
  try {
    return [machine.transition(snapshot, event, entry.scope as never) as SnapshotFrom<M>, actions]
  } finally {
    entry.actions = []
  }
}

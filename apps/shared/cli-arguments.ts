/**
 * Splits a command line into `--name value` / `--name=value` options and bare `--flag`s, for the
 * programs' own option parsers (which then validate each value). One place for the rules: an
 * unknown option, a missing value and an option given twice are errors said in one line.
 */
export type SplitArguments<V extends string, F extends string> =
  | { readonly kind: "help" }
  | { readonly kind: "error"; readonly message: string }
  | { readonly kind: "split"; readonly values: ReadonlyMap<V, string>; readonly flags: ReadonlySet<F> }

export const splitArguments = <V extends string, F extends string = never>(
  argv: ReadonlyArray<string>,
  valueOptions: ReadonlyArray<V>,
  flagOptions: ReadonlyArray<F> = [],
  hint = "",
): SplitArguments<V, F> => {
  const isValue = (name: string): name is V => (valueOptions as ReadonlyArray<string>).includes(name)
  const isFlag = (name: string): name is F => (flagOptions as ReadonlyArray<string>).includes(name)
  const values = new Map<V, string>()
  const flags = new Set<F>()
  // Each turn consumes one or two arguments: at most argv.length turns.
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i] ?? ""
    if (argument === "-h" || argument === "--help") return { kind: "help" }
    if (isFlag(argument)) {
      if (flags.has(argument)) return { kind: "error", message: `${argument} given twice` }
      flags.add(argument)
      continue
    }
    const equals = argument.indexOf("=")
    const name = equals > 0 ? argument.slice(0, equals) : argument
    if (!isValue(name)) {
      const shown = JSON.stringify(argument.slice(0, 40))
      return { kind: "error", message: `${argument.startsWith("-") ? "unknown option" : "unexpected argument"} ${shown}${hint}` }
    }
    let value: string | undefined
    if (equals > 0) value = argument.slice(equals + 1)
    else {
      value = argv[i + 1]
      i += 1
    }
    if (value === undefined || value === "" || (equals < 0 && value.startsWith("--"))) return { kind: "error", message: `${name} needs a value` }
    if (values.has(name)) return { kind: "error", message: `${name} given twice` }
    values.set(name, value)
  }
  return { kind: "split", values, flags }
}

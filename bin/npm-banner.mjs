/**
 * npm prints a banner before running a package script — an empty line, `> mqtt-chat@0.1.0 start`,
 * `> node bin/mqtt-chat.mjs ARGS`, an empty line — and only `--silent` (which also hides npm's
 * errors) turns it off. On a terminal we erase those rows again, so `npm start` shows only the chat.
 *
 * Only when it is certainly npm's banner on this terminal: stdout is a TTY, npm (the user agent
 * says so) runs this very script, and npm was not told to be silent (no banner) or to print JSON
 * (banner on stderr). The rows are counted as the terminal wrapped them.
 */
const ESC = "\u001b"

/** How many terminal rows npm's banner took, or 0 when this is not npm's banner on a terminal. */
export const npmBannerRows = (env, argv, stdout) => {
  if (stdout.isTTY !== true || !(stdout.columns > 0)) return 0
  if (!(env.npm_config_user_agent ?? "").startsWith("npm/")) return 0
  if (env.npm_config_loglevel === "silent" || env.npm_config_json === "true") return 0
  const event = env.npm_lifecycle_event
  const script = env.npm_lifecycle_script
  if (event === undefined || script === undefined || env.npm_package_name === undefined || env.npm_package_version === undefined) return 0
  const args = argv.slice(2)
  const lines = ["", `> ${env.npm_package_name}@${env.npm_package_version} ${event}`, `> ${script.trim()}${args.length > 0 ? ` ${args.join(" ")}` : ""}`, ""]
  // A script of several lines is printed as several "> " lines; ours are one line.
  if (script.includes("\n")) return 0
  return lines.reduce((rows, line) => rows + Math.max(1, Math.ceil([...line].length / stdout.columns)), 0)
}

/** Moves the cursor up over the banner and clears from there to the end of the screen. */
export const eraseNpmBanner = (env = process.env, argv = process.argv, stdout = process.stdout) => {
  const rows = npmBannerRows(env, argv, stdout)
  if (rows > 0) stdout.write(`${ESC}[${rows}F${ESC}[J`)
}

/**
 * How many colours the terminal shows, and a palette that stays visible with few.
 *
 * blessed reads the colour count from terminfo, but cannot parse the newer terminfo format that
 * `tmux-256color` and `screen-256color` use on current systems: it falls back to its built-in
 * `xterm` entry, which says 8. With 8 colours blessed turns grey (colour 8, "bright black") into
 * colour 0, black, and timestamps, dividers, headings and hints vanish on a dark background.
 *
 * So: a terminal that says 256 colours in its name (or COLORTERM says truecolor), and any terminal
 * inside tmux (tmux converts colours for the terminal outside it), gets 256; otherwise terminfo's
 * count stands. And with 8 colours or fewer, grey is drawn as white, never as black.
 */
import type { Widgets } from "blessed"

export const COLOURS_256 = 256
const GREY = 8
const WHITE = 7

/** The colour count to draw with: terminfo's (`detected`) unless the environment knows better. */
export const colourDepth = (env: Readonly<Record<string, string | undefined>>, detected: number): number => {
  const term = env.TERM ?? ""
  const colorTerm = env.COLORTERM ?? ""
  const says256 = /256colou?r|-direct$/.test(term) || /^(truecolor|24bit)$/i.test(colorTerm)
  const insideTmux = (env.TMUX ?? "") !== "" || /^tmux(-|$)/.test(term)
  return says256 || insideTmux ? Math.max(detected, COLOURS_256) : detected
}

/** blessed's reduction of a colour index to `total` colours, with grey kept visible at 8 or fewer. */
export const reduceColour = (colour: number, total: number, reduce: (colour: number) => number): number =>
  total <= 8 && colour === GREY ? WHITE : reduce(colour)

interface ColouredScreen {
  readonly tput: { colors: number }
  _reduceColor(colour: number): number
}

/** Sets the screen's colour count from the environment and keeps grey visible on 8 colours. */
export const applyColourDepth = (screen: Widgets.Screen, env: Readonly<Record<string, string | undefined>>): number => {
  const target = screen as unknown as ColouredScreen
  target.tput.colors = colourDepth(env, target.tput.colors)
  const reduce = target._reduceColor.bind(screen)
  // blessed's own reduction is called with the screen's count; only grey at <= 8 is changed.
  target._reduceColor = (colour: number) => reduceColour(colour, target.tput.colors, reduce)
  return target.tput.colors
}

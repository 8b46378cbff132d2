/** A yes/no question the user asked for (not a request from someone): y goes ahead, n or Esc does not. */
import type { KeyEvent } from "./keymap.ts"
import type { Popup, PopupFrame, PopupKeyResult } from "./popups.ts"
import { seg, styledLine, type Segment } from "./styled.ts"

export class ConfirmPopup implements Popup {
  constructor(
    private readonly title: string,
    private readonly question: ReadonlyArray<ReadonlyArray<Segment>>,
    private readonly yesLabel: string,
    private readonly answer: (yes: boolean) => void,
  ) {}

  frame(width: number): PopupFrame {
    return {
      title: this.title,
      lines: [styledLine([], width), ...this.question.map((segments) => styledLine([seg("  "), ...segments], width)), styledLine([], width)],
      footer: `[y] ${this.yesLabel} · [n] or [Esc] no`,
      cursor: null,
    }
  }

  handleKey(ch: string | undefined, key: KeyEvent | undefined): PopupKeyResult {
    const name = key?.full ?? ch ?? ""
    if (name === "y" || name === "S-y") {
      this.answer(true)
      return "close"
    }
    if (name === "n" || name === "S-n" || name === "escape") {
      this.answer(false)
      return "close"
    }
    return "handled"
  }
}

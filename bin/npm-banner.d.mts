/** Types of bin/npm-banner.mjs. */
export interface BannerTerminal {
  readonly isTTY?: boolean
  readonly columns?: number
  write(text: string): unknown
}
/** How many terminal rows npm's banner took, or 0 when this is not npm's banner on a terminal. */
export declare const npmBannerRows: (env: Readonly<Record<string, string | undefined>>, argv: ReadonlyArray<string>, stdout: BannerTerminal) => number
export declare const eraseNpmBanner: (env?: Readonly<Record<string, string | undefined>>, argv?: ReadonlyArray<string>, stdout?: BannerTerminal) => void

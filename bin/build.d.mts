/** Types of bin/build.mjs (plain JavaScript: it runs before anything is compiled). */
export declare const ROOT: string
/** The key of a build made of `inputs` (paths relative to root); null when one of them is missing. */
export declare const buildKey: (inputs: ReadonlyArray<string>, root?: string) => string | null
/** Whether `outDir` holds bundles built from the sources as they are now. */
export declare const isUpToDate: (outDir?: string, root?: string) => boolean
/** Bundles every entry; returns the source files (relative to root) they were made of. */
export declare const build: (outDir?: string, root?: string) => Promise<ReadonlyArray<string>>
/** Builds if stale. */
export declare const ensureBuilt: (outDir?: string, root?: string) => Promise<"fresh" | "built">

/** Property runs: at least 1000 by default; FC_NUM_RUNS raises it for a soak. fast-check prints the seed on failure. */
export const NUM_RUNS = Math.max(1000, Number(process.env.FC_NUM_RUNS ?? 1000))

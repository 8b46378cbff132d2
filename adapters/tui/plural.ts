/** "1 member", "2 members": a count with its noun, the noun plural unless the count is one. */
export const counted = (count: number, one: string, many = `${one}s`): string => `${count} ${count === 1 ? one : many}`

/** Timestamps are stored as UTC epoch milliseconds and returned as ISO 8601 with milliseconds. */
export const nowMs = (): number => Date.now();

export const toIso = (ms: number): string => new Date(ms).toISOString();

export const toIsoOrNull = (ms: number | null): string | null => (ms === null ? null : toIso(ms));

/** Parses an ISO 8601 string to epoch ms, or returns undefined when it is not a date. */
export function parseIso(value: string): number | undefined {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

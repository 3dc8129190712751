/** JSON columns are stored as text; these keep the two directions in one place. */
export const toJsonText = (value: unknown): string => JSON.stringify(value ?? null);

export function fromJsonText<T = unknown>(text: string | null): T {
  return (text === null ? null : JSON.parse(text)) as T;
}

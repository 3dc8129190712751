/** Pure geometry for the who-talks-to-whom graph: nodes on a circle, edges as curved arrows. */

export interface Point {
  x: number;
  y: number;
}

/** Places ids (sorted, so the same graph always looks the same) evenly on a circle. */
export function circleLayout(ids: readonly string[], size: number, margin: number): Map<string, Point> {
  const sorted = [...ids].sort();
  const c = size / 2;
  const r = Math.max(0, c - margin);
  const at = new Map<string, Point>();
  sorted.forEach((id, i) => {
    // Start at the top and go clockwise; a single node sits in the middle.
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, sorted.length);
    at.set(id, sorted.length === 1 ? { x: c, y: c } : { x: c + r * Math.cos(a), y: c + r * Math.sin(a) });
  });
  return at;
}

/**
 * A quadratic curve from `a` to `b`, bent to its left, that stops `inset` short of both centres (the
 * node radius), so the arrowhead is visible; A→B and B→A bend opposite ways and do not overlap.
 * Answers the path and the point to label it at.
 */
export function edgePath(a: Point, b: Point, inset: number): { d: string; label: Point } {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  const ux = dx / len;
  const uy = dy / len;
  const bend = Math.min(40, len / 5);
  const mid = { x: (a.x + b.x) / 2 + uy * bend, y: (a.y + b.y) / 2 - ux * bend };
  const start = { x: a.x + ux * inset, y: a.y + uy * inset };
  const end = { x: b.x - ux * inset, y: b.y - uy * inset };
  const f = (n: number) => n.toFixed(1);
  return {
    d: `M${f(start.x)},${f(start.y)} Q${f(mid.x)},${f(mid.y)} ${f(end.x)},${f(end.y)}`,
    // The curve's own midpoint is halfway between the chord's midpoint and the control point.
    label: { x: (a.x + b.x) / 4 + mid.x / 2, y: (a.y + b.y) / 4 + mid.y / 2 },
  };
}

/** Stroke width for a mail count: 1.5 px for one mail, growing slowly, capped at 8. */
export const edgeWidth = (mail: number): number => Math.min(8, 1.5 + Math.log2(Math.max(1, mail)) * 1.5);

const PALETTE = ['#1d5fbf', '#1b6e34', '#8a5a00', '#6a3d9a', '#a4161a', '#00727a', '#5b4b00', '#444c56'];

/**
 * A colour per agent type, by its place among the graph's sorted types, so types differ while there
 * are no more than the palette holds (all dark enough for a 3:1 contrast on white).
 */
export function typeColors(types: readonly string[]): Map<string, string> {
  return new Map([...new Set(types)].sort().map((t, i) => [t, PALETTE[i % PALETTE.length] ?? '#444c56']));
}

/** Plain-text tables and number formatting for the CLI. */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ').trimEnd();
  return [line(cells[0]), w.map((x) => '-'.repeat(x)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function csv(head: string[], rows: (string | number)[][]): string {
  return [head, ...rows].map((r) => r.join(',')).join('\n');
}

export const millions = (x: number, digits = 3): string => (x / 1e6).toFixed(digits);

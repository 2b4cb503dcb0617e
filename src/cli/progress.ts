/** A one-line live progress bar on a TTY; periodic plain lines otherwise (CI logs). */
export class Progress {
  private last = 0;
  constructor(private readonly tty = Boolean(process.stdout.isTTY)) {}

  update(text: string, fraction: number, force = false): void {
    const now = Date.now();
    if (!force && now - this.last < (this.tty ? 200 : 15000)) return;
    this.last = now;
    if (this.tty) {
      const w = 24;
      const filled = Math.round(Math.min(1, fraction) * w);
      process.stdout.write(`\r[${'#'.repeat(filled)}${'.'.repeat(w - filled)}] ${text}\x1b[K`);
    } else console.log(text);
  }

  done(text: string): void {
    if (this.tty) process.stdout.write(`\r\x1b[K`);
    console.log(text);
  }
}

export function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/**
 * A transient status line on stderr for work that may take more than a second (counting the zoo,
 * evaluating, downloading): drawn only on a terminal, first after `delayMs`, then at most five times a
 * second; `clear` erases it so the command's output stays clean.
 */
export class StatusLine {
  private readonly start = Date.now();
  private last = 0;
  private drawn = false;
  constructor(
    private readonly tty = Boolean(process.stderr.isTTY),
    private readonly delayMs = 1000,
  ) {}

  show(text: string, fraction?: number): void {
    const now = Date.now();
    if (!this.tty || now - this.start < this.delayMs || now - this.last < 200) return;
    this.last = now;
    const bar = fraction === undefined ? '' : `[${'#'.repeat(Math.round(Math.min(1, Math.max(0, fraction)) * 24)).padEnd(24, '.')}] `;
    process.stderr.write(`\r${bar}${text}\x1b[K`);
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) process.stderr.write('\r\x1b[K');
    this.drawn = false;
  }
}

export function bytesStr(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(0)} kB`;
}

/**
 * Remaining time of a loop of equal steps, timed from the end of the first step seen: that step also
 * builds and compiles the graph, and timing from the start put the first ETA of `train` 10× off.
 */
export class Eta {
  private first: { t: number; done: number } | null = null;

  /** Seconds left after `done` of `total` steps at time `now` (ms); NaN until a second step ends. */
  update(done: number, total: number, now = Date.now()): number {
    if (!this.first) this.first = { t: now, done };
    return done > this.first.done ? ((now - this.first.t) / 1000 / (done - this.first.done)) * (total - done) : NaN;
  }
}

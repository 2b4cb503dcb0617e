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

/** A progress bar on a TTY (redrawn in place), plain periodic lines otherwise. */
export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private last = 0;
  private readonly t0 = performance.now();

  constructor(private readonly total: number, private readonly label: string) {}

  /** Reports `done` of `total` with extra text (loss, speed); prints at most every 0.25 s (every 5 s off a TTY). */
  update(done: number, extra: string, force = false): void {
    const now = performance.now();
    if (!force && now - this.last < (this.tty ? 250 : 5000) && done < this.total) return;
    this.last = now;
    const elapsed = (now - this.t0) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : NaN;
    const frac = Math.min(done / this.total, 1);
    const width = 24;
    const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '·');
    const line = `${this.label} ${bar} ${done}/${this.total} ${extra} · ${fmtTime(elapsed)} elapsed, ETA ${Number.isFinite(eta) ? fmtTime(eta) : '?'}`;
    if (this.tty) process.stderr.write(`\r\x1b[2K${line}`);
    else process.stderr.write(`${line}\n`);
  }

  /** Ends the bar (a newline on a TTY). */
  done(): void {
    if (this.tty) process.stderr.write('\n');
  }
}

export function fmtTime(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

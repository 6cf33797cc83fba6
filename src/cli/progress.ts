/** A progress bar on stderr for batch commands; silent when stderr is not a terminal-like stream. */
export class ProgressBar {
  private readonly start = Date.now();
  private done = 0;
  private lastDecile = -1;

  constructor(private readonly total: number, private readonly label: string, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.draw();
  }

  tick(n = 1): void {
    this.done += n;
    this.draw();
  }

  private draw(): void {
    const width = 30;
    const frac = this.total ? this.done / this.total : 1;
    const filled = Math.round(frac * width);
    const secs = (Date.now() - this.start) / 1000;
    const rate = secs > 0 ? this.done / secs : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : 0;
    // Off a terminal (logs, CI) print only every tenth of the way, not every item.
    const decile = Math.floor(frac * 10);
    if (!this.stream.isTTY && decile === this.lastDecile) return;
    this.lastDecile = decile;
    const line = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} ${rate.toFixed(1)}/s eta ${eta.toFixed(0)}s`;
    this.stream.write(this.stream.isTTY ? `\r${line}` : `${line}\n`);
    if (this.done >= this.total && this.stream.isTTY) this.stream.write('\n');
  }
}

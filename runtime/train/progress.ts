/**
 * Progress output. On a terminal one status line (step, loss, lr, clips/s, ETA) is redrawn in place
 * with \r; log lines are printed above it. Elsewhere (files, CI) every update is a plain line.
 */
export interface ProgressState {
  readonly stage: string;
  readonly step: number;
  readonly total: number;
  readonly loss: number;
  readonly lr: number;
  readonly clipsPerSecond: number;
  readonly etaSeconds: number;
}

export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(rest).padStart(2, "0")}s` : `${rest}s`;
}

export function formatProgress(p: ProgressState): string {
  const width = String(p.total).length;
  return `[${p.stage}] step ${String(p.step).padStart(width)}/${p.total}  loss ${p.loss.toFixed(4)}  lr ${p.lr.toExponential(2)}  ${p.clipsPerSecond.toFixed(1)} clips/s  ETA ${formatDuration(p.etaSeconds)}`;
}

export class Progress {
  private statusShown = false;

  constructor(private readonly out: Output) {}

  /** True on a terminal, where the status line is cheap to redraw after every step. */
  get live(): boolean {
    return this.out.isTTY === true;
  }

  /** A status update: redrawn on a terminal, a line otherwise. */
  update(p: ProgressState): void {
    const line = formatProgress(p);
    if (this.out.isTTY) {
      const columns = this.out.columns ?? 120;
      this.out.write(`\r${line.slice(0, columns - 1)}\x1b[K`);
      this.statusShown = true;
    } else this.out.write(`${line}\n`);
  }

  /** A permanent line (evaluation results, saves, warnings). */
  log(line: string): void {
    this.clearStatus();
    this.out.write(`${line}\n`);
  }

  /** Ends the status line so later output starts on a fresh line. */
  finish(): void {
    if (this.statusShown) this.out.write("\n");
    this.statusShown = false;
  }

  private clearStatus(): void {
    if (this.statusShown) this.out.write("\r\x1b[K");
    this.statusShown = false;
  }
}

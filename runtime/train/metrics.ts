/** metrics.jsonl: one JSON object per logged step; evaluation rows add eval_loss and eval_accuracy. */
import * as fs from "node:fs";

export interface MetricsRow {
  readonly step: number;
  readonly stage: string;
  readonly loss: number;
  readonly lr: number;
  readonly clips_per_s: number;
  readonly eval_loss?: number;
  readonly eval_accuracy?: number;
}

export class MetricsLog {
  readonly rows: MetricsRow[] = [];

  /** Opens `file`; on resume keeps the rows up to `keepUpTo` (later rows belong to the interrupted run's future). */
  constructor(
    private readonly file: string,
    keepUpTo: number | undefined,
  ) {
    if (keepUpTo !== undefined && fs.existsSync(file)) {
      for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        if (!line.trim()) continue;
        try {
          const row = JSON.parse(line) as MetricsRow;
          if (row.step <= keepUpTo) this.rows.push(row);
        } catch {
          // A line cut by a crash mid-append; the rows before it are intact.
        }
      }
    }
    fs.writeFileSync(file, this.rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
  }

  append(row: MetricsRow): void {
    // JSON has no NaN: a diverged loss is written as null.
    const text = JSON.stringify(row, (_, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v));
    this.rows.push(row);
    fs.appendFileSync(this.file, `${text}\n`);
  }
}

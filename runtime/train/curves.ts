/**
 * curves.svg: the training loss (and held-out loss) and the held-out accuracy against the step, as
 * a self-contained SVG with axes, ticks, labels and a legend. Hand-written: no plotting dependency.
 */
import type { MetricsRow } from "./metrics.ts";

interface Series {
  readonly label: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
}

const WIDTH = 760;
const PANEL_HEIGHT = 250;
const MARGIN = { left: 70, right: 170, top: 40, bottom: 50 };

/** About `count` round tick values (1, 2, 5 x 10^k) covering [low, high]. */
export function niceTicks(low: number, high: number, count = 5): number[] {
  if (!(high > low)) return [low];
  const raw = (high - low) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (v === 0) return "0";
  if (Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function panel(top: number, title: string, yLabel: string, series: readonly Series[], xRange: [number, number], yRange: [number, number]): string[] {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const x0 = MARGIN.left;
  const y0 = top + MARGIN.top;
  const [xMin, xMax] = xRange;
  const [yMin, yMax] = yRange;
  const sx = (v: number) => x0 + ((v - xMin) / (xMax - xMin || 1)) * plotW;
  const sy = (v: number) => y0 + plotH - ((v - yMin) / (yMax - yMin || 1)) * plotH;
  const out: string[] = [];
  out.push(`<text x="${x0 + plotW / 2}" y="${top + 22}" text-anchor="middle" font-size="15" font-weight="bold">${escape(title)}</text>`);
  out.push(`<rect x="${x0}" y="${y0}" width="${plotW}" height="${plotH}" fill="white" stroke="#333"/>`);
  for (const t of niceTicks(xMin, xMax)) {
    const x = sx(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + plotH}" stroke="#e4e4e4"/>`);
    out.push(`<line x1="${x}" y1="${y0 + plotH}" x2="${x}" y2="${y0 + plotH + 5}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${y0 + plotH + 18}" text-anchor="middle" font-size="11">${formatTick(t)}</text>`);
  }
  for (const t of niceTicks(yMin, yMax)) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${x0}" y1="${y}" x2="${x0 + plotW}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<line x1="${x0 - 5}" y1="${y}" x2="${x0}" y2="${y}" stroke="#333"/>`);
    out.push(`<text x="${x0 - 8}" y="${Number(y) + 4}" text-anchor="end" font-size="11">${formatTick(t)}</text>`);
  }
  out.push(`<text x="${x0 + plotW / 2}" y="${y0 + plotH + 38}" text-anchor="middle" font-size="12">step</text>`);
  out.push(`<text transform="translate(${x0 - 50} ${y0 + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escape(yLabel)}</text>`);
  series.forEach((s, i) => {
    if (s.points.length > 0) {
      const d = s.points.map(([x, y], k) => `${k === 0 ? "M" : "L"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="6 3"' : ""}/>`);
      for (const [x, y] of s.points.length <= 40 ? s.points : []) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    }
    const ly = y0 + 12 + i * 20;
    const lx = x0 + plotW + 16;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ""}/>`);
    out.push(`<text x="${lx + 30}" y="${ly + 4}" font-size="12">${escape(s.label)}</text>`);
  });
  return out;
}

function range(values: readonly number[], pad: number): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const margin = (hi - lo) * pad || Math.abs(hi) * 0.1 || 1;
  return [lo - margin, hi + margin];
}

/** The SVG text for the rows of one stage's metrics.jsonl. */
export function curvesSvg(rows: readonly MetricsRow[], title: string): string {
  const train = rows.filter((r) => Number.isFinite(r.loss)).map((r) => [r.step, r.loss] as const);
  const evalLoss = rows.filter((r) => r.eval_loss !== undefined && Number.isFinite(r.eval_loss)).map((r) => [r.step, r.eval_loss!] as const);
  const accuracy = rows.filter((r) => r.eval_accuracy !== undefined).map((r) => [r.step, r.eval_accuracy!] as const);
  const steps = rows.map((r) => r.step);
  const xRange: [number, number] = steps.length > 0 ? [0, Math.max(...steps, 1)] : [0, 1];
  const lossRange = range([...train, ...evalLoss].map(([, y]) => y), 0.05);
  const body = [
    ...panel(0, `${title}: loss`, "loss", [
      { label: "train loss", color: "#1f77b4", points: train },
      { label: "held-out loss", color: "#d62728", points: evalLoss, dashed: true },
    ], xRange, [Math.max(0, lossRange[0]), lossRange[1]]),
    ...panel(PANEL_HEIGHT, `${title}: held-out accuracy`, "accuracy", [{ label: "held-out accuracy", color: "#2ca02c", points: accuracy }], xRange, [0, 1]),
  ];
  if (accuracy.length === 0) {
    body.push(`<text x="${MARGIN.left + 10}" y="${PANEL_HEIGHT + MARGIN.top + 24}" font-size="12" fill="#666">no accuracy: this stage has no classification output, or no evaluation ran</text>`);
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${2 * PANEL_HEIGHT}" viewBox="0 0 ${WIDTH} ${2 * PANEL_HEIGHT}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#fafafa"/>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

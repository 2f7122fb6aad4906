import { describe, expect, it } from "vitest";
import { curvesSvg, niceTicks } from "../../runtime/train/curves.ts";
import { formatDuration, Progress } from "../../runtime/train/progress.ts";
import { tokenizeCaption } from "../../runtime/text/byte-level.ts";

const state = { stage: "finetune", step: 7, total: 300, loss: 2.25, lr: 1e-4, clipsPerSecond: 3.5, etaSeconds: 125 };

describe("progress output", () => {
  it("redraws one status line with \\r on a terminal and prints log lines above it", () => {
    let text = "";
    const progress = new Progress({ isTTY: true, columns: 200, write: (t: string) => void (text += t) });
    progress.update(state);
    progress.update({ ...state, step: 8 });
    progress.log("saved");
    progress.finish();
    expect(text).toBe(
      "\r[finetune] step   7/300  loss 2.2500  lr 1.00e-4  3.5 clips/s  ETA 2m05s\x1b[K" +
        "\r[finetune] step   8/300  loss 2.2500  lr 1.00e-4  3.5 clips/s  ETA 2m05s\x1b[K" +
        "\r\x1b[Ksaved\n",
    );
  });

  it("prints plain lines elsewhere", () => {
    let text = "";
    const progress = new Progress({ write: (t: string) => void (text += t) });
    progress.update(state);
    progress.finish();
    expect(text).toBe("[finetune] step   7/300  loss 2.2500  lr 1.00e-4  3.5 clips/s  ETA 2m05s\n");
    expect([formatDuration(59.6), formatDuration(3725), formatDuration(Number.NaN)]).toEqual(["1m00s", "1h02m", "?"]);
  });
});

describe("curves.svg", () => {
  it("picks round ticks", () => {
    expect(niceTicks(0, 300)).toEqual([0, 100, 200, 300]);
    expect(niceTicks(0, 48)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(0.8, 2.4)).toEqual([1, 1.5, 2]);
  });

  it("draws loss and accuracy panels with axes, labels and a legend", () => {
    const rows = [
      { step: 10, stage: "s", loss: 2.3, lr: 1e-3, clips_per_s: 4 },
      { step: 20, stage: "s", loss: 1.9, lr: 1e-3, clips_per_s: 4, eval_loss: 2.0, eval_accuracy: 0.4 },
    ];
    const svg = curvesSvg(rows, "UniFormerV2 <finetune>");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("UniFormerV2 &lt;finetune&gt;: loss");
    for (const label of [">step<", ">loss<", ">accuracy<", ">train loss<", ">held-out loss<", ">held-out accuracy<"]) expect(svg).toContain(label);
    expect(svg.match(/<path /g)).toHaveLength(3);
    expect(curvesSvg([rows[0]!], "x")).toContain("no accuracy");
  });
});

describe("caption tokens", () => {
  it("are byte-level: start 257, byte + 1, end 258, zero padding, cut to the length", () => {
    expect([...tokenizeCaption("ab", 6)]).toEqual([257, 98, 99, 258, 0, 0]);
    expect([...tokenizeCaption("abcdef", 4)]).toEqual([257, 98, 99, 258]);
  });
});

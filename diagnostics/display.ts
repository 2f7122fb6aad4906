/**
 * Turning one source line into what a terminal shows: tabs expanded to the next multiple of
 * TAB_WIDTH, control characters replaced, East Asian wide characters counted as two columns and
 * combining marks as zero, so that carets line up under the text they point at.
 */
export const TAB_WIDTH = 4;

export interface DisplayLine {
  /** The printable text. */
  readonly text: string;
  /** displayCol[i] is the display column (0-based) where UTF-16 index i of the source line starts. */
  readonly displayCol: readonly number[];
  readonly width: number;
}

function isCombining(cp: number): boolean {
  return (
    (cp >= 0x0300 && cp <= 0x036f) ||
    (cp >= 0x1ab0 && cp <= 0x1aff) ||
    (cp >= 0x20d0 && cp <= 0x20ff) ||
    (cp >= 0xfe20 && cp <= 0xfe2f) ||
    cp === 0x200b ||
    cp === 0x200d ||
    (cp >= 0xfe00 && cp <= 0xfe0f)
  );
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

export function toDisplayLine(line: string): DisplayLine {
  const displayCol: number[] = new Array(line.length + 1);
  let text = "";
  let col = 0;
  let i = 0;
  while (i < line.length) {
    const cp = line.codePointAt(i)!;
    const units = cp > 0xffff ? 2 : 1;
    for (let u = 0; u < units; u++) displayCol[i + u] = col;
    if (cp === 0x09) {
      const next = (Math.floor(col / TAB_WIDTH) + 1) * TAB_WIDTH;
      text += " ".repeat(next - col);
      col = next;
    } else if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0)) {
      text += "\uFFFD";
      col += 1;
    } else if (isCombining(cp)) {
      text += String.fromCodePoint(cp);
    } else {
      text += String.fromCodePoint(cp);
      col += isWide(cp) ? 2 : 1;
    }
    i += units;
  }
  displayCol[line.length] = col;
  return { text, displayCol, width: col };
}

/** The part of `d` between display columns [from, to), never splitting a wide character. */
export function sliceDisplay(line: string, from: number, to: number): string {
  const d = toDisplayLine(line);
  let out = "";
  let i = 0;
  while (i < line.length) {
    const cp = line.codePointAt(i)!;
    const units = cp > 0xffff ? 2 : 1;
    const start = d.displayCol[i]!;
    const end = d.displayCol[i + units]!;
    if (start >= from && end <= to) {
      out += cp === 0x09 ? " ".repeat(end - start) : toDisplayLine(String.fromCodePoint(cp)).text;
    }
    i += units;
  }
  return out;
}

/**
 * CLIP's text normalisation before BPE, as OpenAI's SimpleTokenizer does it: `basic_clean` (ftfy's
 * fix_text, HTML entities unescaped twice, trimmed), `whitespace_clean` (every whitespace run to one
 * space), then lowercase. Only ftfy's deterministic fixes are reproduced; its mojibake repair
 * (fix_encoding, C1 controls read as Windows-1252) guesses at text decoded with the wrong codec,
 * which a UTF-8 caption file is not, and needs ftfy's large tables. The HTML entities known here
 * are the numeric ones and the named ones captions use (NAMED_ENTITIES); Python's table has 2231.
 */

/**
 * Python's `regex` `\s` (the Unicode White_Space property). JavaScript's `\s` differs: it adds
 * U+FEFF and lacks U+0085 (NEL), which would split or join words differently from CLIP.
 */
export const WHITESPACE_CHARS = "\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
  ndash: "\u2013",
  mdash: "\u2014",
  hellip: "\u2026",
  lsquo: "\u2018",
  rsquo: "\u2019",
  ldquo: "\u201c",
  rdquo: "\u201d",
  copy: "\u00a9",
  reg: "\u00ae",
  trade: "\u2122",
};

/** The entities HTML also accepts without the semicolon (Python's html5 table lists them so). */
const BARE_ENTITIES = new Set(["amp", "lt", "gt", "quot", "nbsp", "copy", "reg"]);

const ENTITY = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]{0,31};?)/g;

function numericReference(body: string): string {
  const hex = body[1] === "x" || body[1] === "X";
  const code = Number.parseInt(body.slice(hex ? 2 : 1).replace(";", ""), hex ? 16 : 10);
  // Python's html.unescape answers U+FFFD for NUL, surrogates and code points past U+10FFFF.
  if (code === 0 || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return "\ufffd";
  return String.fromCodePoint(code);
}

/** Python's html.unescape for numeric references and NAMED_ENTITIES; other names stay as written. */
export function unescapeHtml(text: string): string {
  return text.replace(ENTITY, (whole, body: string) => {
    if (body.startsWith("#")) return numericReference(body);
    const closed = body.endsWith(";");
    const name = closed ? body.slice(0, -1) : body;
    if (closed && NAMED_ENTITIES[name] !== undefined) return NAMED_ENTITIES[name];
    // `&ampx` reads as `&` + `x`: the longest bare entity at the start of the name.
    for (let end = name.length; end > 1; end--) {
      const prefix = name.slice(0, end);
      if (BARE_ENTITIES.has(prefix)) return NAMED_ENTITIES[prefix]! + body.slice(end);
    }
    return whole;
  });
}

/** Fullwidth ASCII and halfwidth forms to their plain characters (ftfy fix_character_width). */
function fixCharacterWidth(text: string): string {
  return text.replace(/[\u3000\uff01-\uffef]/g, (c) => (c === "\u3000" ? " " : c.normalize("NFKC")));
}

/**
 * ftfy.fix_text's deterministic steps, in its order: HTML entities (only in text without `<`),
 * terminal escape codes, Latin ligatures, character width, curly quotes, line breaks, lone
 * surrogates, control characters, NFC.
 */
export function fixText(text: string): string {
  let t = text.includes("<") ? text : unescapeHtml(text);
  t = t.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");
  t = t.replace(/[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g, (c) => c.normalize("NFKC"));
  t = fixCharacterWidth(t);
  t = t.replace(/[\u02bc\u2018-\u201b]/g, "'").replace(/[\u201c-\u201f]/g, '"');
  t = t.replace(/\r\n|[\r\u2028\u2029\u0085]/g, "\n");
  t = t.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
  t = t.replace(/[\u0000-\u0008\u000b\u000e-\u001f\u007f\u206a-\u206f\ufeff\ufff9-\ufffc]/g, "");
  return t.normalize("NFC");
}

const WHITESPACE_RUN = new RegExp(`[${WHITESPACE_CHARS}]+`, "g");

/** SimpleTokenizer's `whitespace_clean(basic_clean(text)).lower()`. */
export function cleanText(text: string): string {
  const basic = unescapeHtml(unescapeHtml(fixText(text))).trim();
  return basic.replace(WHITESPACE_RUN, " ").trim().toLowerCase();
}

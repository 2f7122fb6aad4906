/** Byte-level caption tokens (InternVideo's default text side, no download): 257 start, bytes + 1, 258 end, 0 padding. */
export function tokenizeCaption(caption: string, length: number): Int32Array {
  const bytes = new TextEncoder().encode(caption);
  const tokens = new Int32Array(length);
  tokens[0] = 257;
  const body = Math.min(bytes.length, length - 2);
  for (let i = 0; i < body; i++) tokens[i + 1] = bytes[i]! + 1;
  tokens[body + 1] = 258;
  return tokens;
}

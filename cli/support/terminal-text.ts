/**
 * Text taken from records (keys, header values, error messages, payloads) made safe to print on an operator's
 * terminal: a hostile record must not be able to clear the screen, set the clipboard (OSC 52), ring the bell,
 * move the cursor or reverse the text direction. Every character that is not printable is shown as an escape:
 * `\n`, `\r`, `\t`, `\uXXXX` (C0 and C1 controls, DEL, Unicode format characters such as the bidi overrides
 * U+202A..U+202E and U+2066..U+2069, zero-width characters, line and paragraph separators, lone surrogates), and
 * a byte that is not valid UTF-8 as `\xNN`, and a backslash as `\\` (so a key that is literally `a\x1b` never
 * looks like one holding an ESC byte). `--json` output goes through {@link terminalSafeJson}: the same characters
 * as JSON `\uXXXX` escapes, so it parses to exactly the same data.
 */

/** Controls, format characters (bidi, zero-width), line/paragraph separators, surrogates, private use, unassigned. */
const unprintable = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}\\]/gu;

const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

function escapeCodePoint(character: string): string {
  const named_ = named[character];
  if (named_ !== undefined) return named_;
  const codePoint = character.codePointAt(0)!;
  return codePoint > 0xffff ? `\\u{${codePoint.toString(16)}}` : `\\u${codePoint.toString(16).padStart(4, '0')}`;
}

/** `text` with every unprintable character escaped. */
export function terminalSafe(text: string): string {
  return text.replace(unprintable, escapeCodePoint);
}

/**
 * What JSON.stringify leaves raw but a terminal acts on or hides: DEL, C1 controls (U+009B is a one-byte CSI),
 * format characters (bidi marks and overrides, zero-width), line/paragraph separators, private use, unassigned,
 * and U+FFFD (the mark of bytes that were not UTF-8). C0 controls and lone surrogates JSON escapes itself.
 */
const unprintableInJson = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\ufffd]/gu;

function jsonEscape(character: string): string {
  let escaped = '';
  for (let index = 0; index < character.length; index += 1) escaped += `\\u${character.charCodeAt(index).toString(16).padStart(4, '0')}`;
  return escaped;
}

/**
 * `JSON.stringify(value, null, space)` safe to print on a terminal: every character of {@link unprintableInJson}
 * written as a `\uXXXX` escape (a surrogate pair for one above U+FFFF). Such characters only occur inside JSON
 * strings, where the escape means the same character: the output parses to identical data.
 */
export function terminalSafeJson(value: unknown, space: number = 2): string {
  return JSON.stringify(value, null, space).replace(unprintableInJson, jsonEscape);
}

/** Multi-line text (an error with its stack): each line made safe, the line breaks kept. */
export function terminalSafeLines(text: string): string {
  return text.split('\n').map(terminalSafe).join('\n');
}

/** Length of the UTF-8 sequence starting at `index`, or 0 when the bytes there are not valid UTF-8. */
function utf8SequenceLength(bytes: Uint8Array, index: number): number {
  const first = bytes[index]!;
  if (first < 0x80) return 1;
  const continuation = (offset: number, low = 0x80, high = 0xbf) => {
    const byte = bytes[index + offset];
    return byte !== undefined && byte >= low && byte <= high;
  };
  if (first >= 0xc2 && first <= 0xdf) return continuation(1) ? 2 : 0;
  if (first >= 0xe0 && first <= 0xef) {
    // No overlong forms (E0 A0..), no UTF-16 surrogates (ED 80..9F).
    const [low, high] = first === 0xe0 ? [0xa0, 0xbf] : first === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return continuation(1, low, high) && continuation(2) ? 3 : 0;
  }
  if (first >= 0xf0 && first <= 0xf4) {
    const [low, high] = first === 0xf0 ? [0x90, 0xbf] : first === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

/** Bytes as text: valid UTF-8 decoded and escaped like {@link terminalSafe}, every invalid byte as `\xNN`. */
export function terminalSafeBytes(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let shown = '';
  let runStart = 0;
  let index = 0;
  while (index < buffer.length) {
    const length = utf8SequenceLength(buffer, index);
    if (length > 0) {
      index += length;
      continue;
    }
    shown += terminalSafe(buffer.toString('utf8', runStart, index)) + `\\x${buffer[index]!.toString(16).padStart(2, '0')}`;
    index += 1;
    runStart = index;
  }
  return shown + terminalSafe(buffer.toString('utf8', runStart, index));
}

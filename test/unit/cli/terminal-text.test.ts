import { describe, expect, it } from 'vitest';
import { terminalSafe, terminalSafeBytes } from '../../../cli/support/terminal-text.ts';

describe('terminalSafe', () => {
  it('escapes C0, DEL, C1, bidi, zero-width, separators and lone surrogates; keeps printable text', () => {
    expect(terminalSafe('a\u001b[2Jb\u0007\u007f\u0085\u009b\u202e\u2066\u200b\u2028\n\r\t\ud800z')).toBe('a\\u001b[2Jb\\u0007\\u007f\\u0085\\u009b\\u202e\\u2066\\u200b\\u2028\\n\\r\\tz'.replace('z', '\\ud800z'));
    expect(terminalSafe('Zürich 東京 ☃ 😀')).toBe('Zürich 東京 ☃ 😀');
  });
});

describe('terminalSafeBytes', () => {
  it('decodes valid UTF-8 and shows each invalid byte as \\xNN', () => {
    expect(terminalSafeBytes(Buffer.from('ok ü 😀'))).toBe('ok ü 😀');
    expect(terminalSafeBytes(Buffer.from([0x61, 0xff, 0x62]))).toBe('a\\xffb');
    // Overlong "/", a UTF-16 surrogate encoded as UTF-8, a code point above U+10FFFF, a truncated sequence.
    expect(terminalSafeBytes(Buffer.from([0xc0, 0xaf]))).toBe('\\xc0\\xaf');
    expect(terminalSafeBytes(Buffer.from([0xed, 0xa0, 0x80]))).toBe('\\xed\\xa0\\x80');
    expect(terminalSafeBytes(Buffer.from([0xf4, 0x90, 0x80, 0x80]))).toBe('\\xf4\\x90\\x80\\x80');
    expect(terminalSafeBytes(Buffer.from([0x41, 0xe2, 0x82]))).toBe('A\\xe2\\x82');
    expect(terminalSafeBytes(Buffer.from('\u001b]52;c;eA==\u0007'))).toBe('\\u001b]52;c;eA==\\u0007');
  });
});

import { describe, expect, it } from 'vitest';
import { terminalSafe, terminalSafeBytes, terminalSafeJson } from '../../../cli/support/terminal-text.ts';

describe('terminalSafe', () => {
  it('escapes C0, DEL, C1, bidi, zero-width, separators and lone surrogates; keeps printable text', () => {
    expect(terminalSafe('a\u001b[2Jb\u0007\u007f\u0085\u009b\u202e\u2066\u200b\u2028\n\r\t\ud800z')).toBe('a\\u001b[2Jb\\u0007\\u007f\\u0085\\u009b\\u202e\\u2066\\u200b\\u2028\\n\\r\\tz'.replace('z', '\\ud800z'));
    expect(terminalSafe('Zürich 東京 ☃ 😀')).toBe('Zürich 東京 ☃ 😀');
  });

  it('escapes a backslash, so a key that is literally a\\x1b never looks like one holding an ESC byte', () => {
    expect(terminalSafe('a\\x1b')).toBe('a\\\\x1b');
    expect(terminalSafe('a\u001b')).toBe('a\\u001b');
    expect(terminalSafe('a\\x1b')).not.toBe(terminalSafe('a\u001b'));
    expect(terminalSafeBytes(Buffer.from('a\\x1b'))).not.toBe(terminalSafeBytes(Buffer.from([0x61, 0x1b])));
    expect(terminalSafeBytes(Buffer.from('a\\xff'))).not.toBe(terminalSafeBytes(Buffer.from([0x61, 0xff])));
  });
});

describe('terminalSafeJson', () => {
  const hostile = {
    key: 'k\u009b2J\u0085\u007f\u061c\u200b\u200e\u200f\u2028\u2029\u202a\u202e\u2066\u2069\u001b]52;c;eA==\u0007',
    astral: 'tag \u{e0041} private \u{f0000} ok 😀 Zürich',
    nested: [{ 'head\u202eer': 'v\u00adx' }],
  };

  it('prints no C0/C1 control, DEL, bidi, zero-width, separator or other format character raw', () => {
    const text = terminalSafeJson(hostile);
    // eslint-disable-next-line no-control-regex -- the point: find control characters
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069]/u);
    expect(text).not.toMatch(/[\u{e0000}-\u{e007f}\u{f0000}-\u{10ffff}]/u);
    expect(text).toContain('\\u009b');
    expect(text).toContain('\\u202e');
    expect(text).toContain('😀 Zürich');
  });

  it('parses back to identical data', () => {
    expect(JSON.parse(terminalSafeJson(hostile))).toEqual(hostile);
    expect(JSON.parse(terminalSafeJson([1, null, 'a\\b"c', true]))).toEqual([1, null, 'a\\b"c', true]);
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

import { describe, expect, it } from 'vitest';
import { describeUnexpected, redactCredentials } from '../../../cli/support/unexpected-error.ts';

describe('unexpected CLI errors', () => {
  it('replaces the password of any URL in the text', () => {
    expect(redactCredentials('connect redis://:s3cret-planted@127.0.0.1:6379 and postgres://app:pw-planted@db/x failed')).toBe(
      'connect redis://:redacted@127.0.0.1:6379 and postgres://app:redacted@db/x failed',
    );
    expect(redactCredentials('http://registry:8081/apis')).toBe('http://registry:8081/apis');
  });

  it('prints the name, message and stack, never the other properties of the error', () => {
    const error = Object.assign(new TypeError('boom at https://user:pw-planted@registry.example/apis'), { config: { sasl: { password: 'pw-in-config' } } });
    const printed = describeUnexpected(error);
    expect(printed).toMatch(/^orderly: unexpected error: TypeError: boom at https:\/\/user:redacted@registry\.example\/apis/);
    expect(printed).toContain('unexpected-error.test.ts'); // the stack is kept
    expect(printed).not.toContain('pw-planted');
    expect(printed).not.toContain('pw-in-config');
  });

  it('escapes control characters a message may quote from a record, keeping the stack lines', () => {
    const printed = describeUnexpected(new Error('bad key \u001b]52;c;eA==\u0007\u202e'));
    expect(printed).toMatch(/^orderly: unexpected error: Error: bad key \\u001b\]52;c;eA==\\u0007\\u202e\n {4}at /);
  });
});

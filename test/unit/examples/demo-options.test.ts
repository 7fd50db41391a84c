/** The ledger demo's `--inbox` option: batch by default, per-event on request, anything else refused at the boundary. */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../core/errors.ts';
import { validateDemoOptions } from '../../../examples/ledger/demo-options.ts';

describe('demo options: --inbox', () => {
  it('is batch by default and per-event on request', () => {
    expect(validateDemoOptions({}).inbox).toBe('batch');
    expect(validateDemoOptions({ inbox: 'per-event' }).inbox).toBe('per-event');
  });

  it('refuses another value, naming the flag and the choices', () => {
    const attempt = () => validateDemoOptions({ inbox: 'bulk' as never });
    expect(attempt).toThrow(ConfigurationError);
    expect(attempt).toThrow(/--inbox: must be batch or per-event/);
  });
});

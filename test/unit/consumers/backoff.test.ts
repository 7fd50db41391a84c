import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../../consumers/retries/backoff.ts';

describe('backoffDelayMs', () => {
  const options = { baseMs: 100, maxMs: 5_000 };

  it('doubles per attempt within [delay/2, delay]', () => {
    expect(backoffDelayMs(1, options, () => 0)).toBe(50);
    expect(backoffDelayMs(1, options, () => 1)).toBe(100);
    expect(backoffDelayMs(3, options, () => 0)).toBe(200);
    expect(backoffDelayMs(3, options, () => 1)).toBe(400);
  });

  it('never exceeds the cap, however many attempts', () => {
    expect(backoffDelayMs(50, options, () => 1)).toBe(5_000);
    expect(backoffDelayMs(10_000, options, () => 1)).toBe(5_000);
  });
});

import { describe, expect, it } from 'vitest';
import { validate, version } from 'uuid';
import { newEventId } from '../../../producers/event-id.ts';

describe('newEventId', () => {
  it('gives valid, unique UUIDv7s that sort in creation order, also within one millisecond', () => {
    const ids = Array.from({ length: 5_000 }, (_, index) => newEventId(1_700_000_000_000 + Math.floor(index / 1000)));
    for (const id of ids.slice(0, 50)) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]!.startsWith('018bcfe5-6800-7')).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { SchemaRegistryError } from '../../../schemas/schema-registry-error.ts';

describe('SchemaRegistryError classification', () => {
  it.each([
    [404, 40401, { notFound: true, misrouted: false, retriable: false }],
    [404, 40402, { notFound: true, misrouted: false, retriable: false }],
    [404, 40403, { notFound: true, misrouted: false, retriable: false }],
    [404, undefined, { notFound: false, misrouted: true, retriable: true }],
    [404, 404, { notFound: false, misrouted: true, retriable: true }],
    [undefined, undefined, { notFound: false, misrouted: false, retriable: true }],
    [503, 50301, { notFound: false, misrouted: false, retriable: true }],
    [429, undefined, { notFound: false, misrouted: false, retriable: true }],
    [409, 409, { notFound: false, misrouted: false, retriable: false }],
    [401, undefined, { notFound: false, misrouted: false, retriable: false }],
  ] as const)('HTTP %s with error_code %s', (status, code, expected) => {
    expect(new SchemaRegistryError('x', status, code)).toMatchObject(expected);
  });
});

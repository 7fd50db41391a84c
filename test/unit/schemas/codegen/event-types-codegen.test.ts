/**
 * `orderly schemas codegen`: the generated types describe what the Avro codec really decodes (values typed
 * with them round-trip through avsc unchanged; the wrong shapes are compile errors, checked by `npm run
 * typecheck` through the `@ts-expect-error` lines), the checked-in files are fresh, and `--check` fails on a
 * stale one with a message that says how to fix it.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../../core/errors.ts';
import { readSchemaFile } from '../../../../schemas/avro-type.ts';
import { generateEventTypes, staleness, topicIdentifier } from '../../../../schemas/codegen/event-types-codegen.ts';
import { decimalFromBytes, decimalToBytes } from '../../../../schemas/decimal-bytes.ts';
import type { Payment, PaymentInput, Refund, RefundInput, ShopPaymentsEvent, ShopPaymentsEvents } from './payments-events.generated.ts';
import { shopPaymentsEventTypes } from './payments-events.generated.ts';

const run = promisify(execFile);
const fixtures = 'test/unit/schemas/codegen/payments';
const generatedFixture = 'test/unit/schemas/codegen/payments-events.generated.ts';
const ledgerTypes = 'examples/ledger/ledger-event-types.ts';
const ledgerCommand = ['schemas', 'codegen', '--dir', 'schemas/avro', '--topic', 'accounts.ledger', '--out', ledgerTypes];

const payment: Payment = {
  id: '0190a0b2-0000-7000-8000-000000000001',
  amount: decimalToBytes('-1234.50', 2),
  at: 1_767_225_600_000,
  day: 20_454,
  status: 'SETTLED',
  note: null,
  method: { 'shop.payments.Card': { last4: '4242', network: 'VISA' } },
  tags: ['web'],
  limits: { daily: 500_000, monthly: null },
  fee: decimalToBytes('0.0125', 4, 8),
  count: { long: 3 },
  parent: null,
};

describe('the generated types', () => {
  it('are what the files give: the checked-in fixture, the ledger types and the orders example types are fresh', () => {
    expect(staleness(readFileSync(generatedFixture, 'utf8'), generateEventTypes({ dir: fixtures }))).toBeUndefined();
    expect(staleness(readFileSync(ledgerTypes, 'utf8'), generateEventTypes({ dir: 'schemas/avro', topic: 'accounts.ledger' }))).toBeUndefined();
    expect(staleness(readFileSync('examples/orders/order-event-types.ts', 'utf8'), generateEventTypes({ dir: 'examples/orders/schemas' }))).toBeUndefined();
  });

  it('type values the way avsc decodes them: a typed value round-trips unchanged (wrapped unions, enums, logical types, recursion)', () => {
    const type = readSchemaFile(join(fixtures, 'Payment.avsc'));
    const nested: Payment = { ...payment, method: { 'shop.payments.Transfer': { iban: 'DE89', reference: 'r-1' } }, parent: payment };
    for (const value of [payment, nested]) {
      expect(type.isValid(value)).toBe(true);
      expect(JSON.parse(JSON.stringify(type.fromBuffer(type.toBuffer(value))))).toEqual(JSON.parse(JSON.stringify(value)));
    }
  });

  it('leave fields with a default out of the input type, and avsc writes the default', () => {
    const input: PaymentInput = { id: payment.id, amount: payment.amount, at: payment.at, day: payment.day, method: { 'shop.payments.Transfer': { iban: 'DE89' } }, limits: {}, fee: payment.fee };
    const decoded = readSchemaFile(join(fixtures, 'Payment.avsc')).fromBuffer(readSchemaFile(join(fixtures, 'Payment.avsc')).toBuffer(input)) as Payment;
    expect({ status: decoded.status, note: decoded.note, tags: decoded.tags, count: { ...decoded.count }, parent: decoded.parent }).toEqual({ status: 'PENDING', note: null, tags: [], count: { int: 1 }, parent: null });
    const refund: RefundInput = { paymentId: 'p-1', card: { last4: '1111', network: 'MASTERCARD' } };
    const type = readSchemaFile(join(fixtures, 'Refund.v2.avsc'));
    expect((type.fromBuffer(type.toBuffer(refund)) as Refund).currency).toBe('EUR');
  });

  it('make the wrong shapes compile errors', () => {
    // @ts-expect-error not a symbol of the enum
    const badStatus: Payment = { ...payment, status: 'REFUNDED' };
    // @ts-expect-error avsc wraps a union of two records: the branch must be named
    const unwrapped: Payment = { ...payment, method: { last4: '4242', network: 'VISA' } };
    // @ts-expect-error timestamp-millis is a number (no logical-type hook), not a Date
    const date: Payment = { ...payment, at: new Date() };
    // @ts-expect-error a read value has every field: the reader fills defaults in
    const missing: Refund = { paymentId: 'p-1', card: { last4: '1111', network: 'VISA' } };
    // @ts-expect-error only fields with a default may be left out on write
    const noCard: RefundInput = { paymentId: 'p-1' };
    expect([badStatus, unwrapped, date, missing, noCard]).toHaveLength(5);
  });

  it('give each topic a union discriminated by eventType, a map by record name and the full names at run time', () => {
    const describeEvent = (event: ShopPaymentsEvent): string => {
      switch (event.eventType) {
        case 'shop.payments.Payment':
          return event.value.status;
        case 'shop.payments.Refund':
          return event.value.currency;
      }
    };
    expect(describeEvent({ eventType: 'shop.payments.Payment', value: payment })).toBe('SETTLED');
    const names: Record<keyof ShopPaymentsEvents, string> = shopPaymentsEventTypes;
    expect(names).toEqual({ Payment: 'shop.payments.Payment', Refund: 'shop.payments.Refund' });
    expect(readFileSync(generatedFixture, 'utf8')).toMatch(/export interface ShopAuditEvents \{\n {2}Refund: Refund;\n\}/);
  });

  it('names a topic in PascalCase', () => {
    expect(['accounts.ledger', 'shop-audit', 'orders_v2', '42.things'].map(topicIdentifier)).toEqual(['AccountsLedger', 'ShopAudit', 'OrdersV2', 'Topic42Things']);
  });
});

describe('decimal bytes', () => {
  it('converts exact decimal text to the unscaled two\'s-complement bytes and back', () => {
    expect(decimalToBytes('12.50', 2)).toEqual(Buffer.from([0x04, 0xe2]));
    expect(decimalToBytes('-0.01', 2)).toEqual(Buffer.from([0xff]));
    expect(decimalToBytes('1.5', 2, 4)).toEqual(Buffer.from([0, 0, 0, 150]));
    for (const text of ['0.00', '12.50', '-12.50', '-0.01', '127.99', '-128.00', '92233720368547758.07', '-92233720368547758.08']) {
      expect(decimalFromBytes(decimalToBytes(text, 2), 2)).toBe(text);
    }
    expect(decimalFromBytes(Buffer.from([0x80]), 0)).toBe('-128');
    expect(() => decimalToBytes('1.234', 2)).toThrow(/more than 2 digits/);
    expect(() => decimalToBytes('70000', 0, 2)).toThrow(/does not fit in 2 bytes/);
    expect(() => decimalToBytes('1e3', 0)).toThrow(/not a decimal/);
  });
});

describe('codegen problems', () => {
  function folder(files: Record<string, unknown>): string {
    const dir = mkdtempSync(join(tmpdir(), 'orderly-codegen-'));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), JSON.stringify(content));
    return dir;
  }
  const record = (name: string) => ({ type: 'record', name, fields: [{ name: 'id', type: 'string' }] });

  it('refuses two records that would be one TypeScript name, and a topic naming no schema, listing every problem', () => {
    expect(() => generateEventTypes({ dir: folder({ 'A.avsc': record('one.Thing'), 'B.avsc': record('two.Thing') }) })).toThrow(/two\.Thing and one\.Thing would both declare the TypeScript type Thing: rename one/);
    expect(() => generateEventTypes({ dir: folder({ 'A.avsc': record('one.Thing'), 'B.avsc': record('two.ThingInput') }) })).toThrow(/two\.ThingInput and one\.Thing would both declare the TypeScript type ThingInput/);
    const error = (() => {
      try {
        generateEventTypes({ dir: folder({ 'A.avsc': record('one.Thing'), 'topics.json': { orders: ['Thing', 'Missing'], refunds: [] } }) });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).problems).toEqual(['topics.json: topic orders: no schema in the folder is named Missing', 'topics.json: topic refunds: expected a non-empty list of record names']);
  });

  it('--check exits 1 on a stale file, naming the line and the command that regenerates it, and 0 on a fresh one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orderly-codegen-check-'));
    const out = join(dir, 'events.ts');
    cpSync(ledgerTypes, out);
    const command = ['cli/bin.ts', ...ledgerCommand.slice(0, -1), out, '--check'];
    await expect(run(process.execPath, command)).resolves.toMatchObject({ stdout: expect.stringMatching(/is up to date/) });
    writeFileSync(out, readFileSync(out, 'utf8').replace('  owner: string;\n', ''));
    const failed = await run(process.execPath, command).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/events\.ts is stale: line \d+ differs: the file has ".*", the schemas give " {2}owner: string;"/);
    expect(failed?.stderr).toContain(`Regenerate it with \`orderly schemas codegen --dir schemas/avro --topic accounts.ledger --out ${out}\``);
  }, 60_000); // two CLI processes, each a Node start: seconds on a loaded machine
});

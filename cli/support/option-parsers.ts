/** Parsers for CLI option values: each error names the option, the value and what would be accepted. */
import { InvalidArgumentError } from 'commander';
import { parseTimePoint } from '../../operations/dlt-filter.ts';

export function positiveInteger(option: string): (value: string) => number {
  return (value) => {
    if (!/^\d{1,9}$/.test(value.trim()) || Number(value) < 1) throw new InvalidArgumentError(`${option} "${value}" must be a whole number of 1 or more`);
    return Number(value);
  };
}

export function nonNegativeInteger(option: string): (value: string) => number {
  return (value) => {
    if (!/^\d{1,9}$/.test(value.trim())) throw new InvalidArgumentError(`${option} "${value}" must be a whole number of 0 or more`);
    return Number(value);
  };
}

/** Records per second: a positive number, or `unlimited` for no limit (`0` is refused: it reads as "stop", not "no limit"). */
export function ratePerSecond(value: string): number {
  if (value === 'unlimited') return Infinity;
  const rate = Number(value);
  if (!Number.isFinite(rate) || rate <= 0) throw new InvalidArgumentError(`--rate "${value}" must be a number of records per second above 0, or "unlimited"`);
  return rate;
}

export function timePoint(option: string): (value: string) => number {
  return (value) => {
    const parsed = parseTimePoint(value);
    if (parsed === undefined) throw new InvalidArgumentError(`${option} "${value}" must be an ISO date (2025-01-31T12:00:00Z), epoch milliseconds, or a time ago (30s, 15m, 2h, 7d)`);
    return parsed;
  };
}

const kafkaName = /^[A-Za-z0-9._-]{1,249}$/;

/** A consumer group id: part of the retry and DLT topic names, so it takes only what a topic name takes. */
export function groupId(value: string): string {
  if (!kafkaName.test(value)) throw new InvalidArgumentError(`--group "${value}" may hold only letters, digits, ".", "_" and "-" (it is part of the retry and DLT topic names)`);
  return value;
}

export function topicName(value: string): string {
  if (!kafkaName.test(value)) throw new InvalidArgumentError(`topic "${value}" is not a Kafka topic name: use 1 to 249 letters, digits, ".", "_" or "-"`);
  return value;
}

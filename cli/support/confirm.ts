/**
 * `--confirm <count>` means one thing on every command that changes something (`dlt replay`, `dlt purge`,
 * `keys release`): without it the command is a dry run that says what it would change and how many; with it,
 * the count must equal that number, or nothing is changed. A list that changed between the look and the act
 * is then never acted on blindly.
 */
import { OrderlyError } from '../../core/errors.ts';
import { nonNegativeInteger } from './option-parsers.ts';

export const confirmFlags = '--confirm <count>';

/** Parses the count of `--confirm <count>`. */
export const confirmCount = nonNegativeInteger('--confirm');

/** False for a dry run (no `--confirm`); true when `given` equals `counted`; else an error that changes nothing. */
export function confirmed(given: number | undefined, counted: number, what: string): boolean {
  if (given === undefined) return false;
  if (given !== counted) {
    throw new OrderlyError('CONFIGURATION', `--confirm ${given} does not match the ${counted} ${what}: nothing was changed. Check the list above and pass --confirm ${counted}`);
  }
  return true;
}

/**
 * Record field names Orderly refuses in any schema. avsc builds a decoded record with `this[field] = value`,
 * so a field named `__proto__` replaces the decoded object's prototype: a writer schema with a field
 * `__proto__: {isAdmin: boolean}` gives a value where `v.isAdmin === true` although `Object.keys(v)` is empty.
 * Refusing the name in every schema (registration, reader schemas, writer schemas fetched at decode time)
 * means no byte of data can reach a prototype. Map keys are refused by the value scan.
 */
import type { Type } from 'avsc';

/** Field names refused anywhere in a schema. */
export const forbiddenFieldNames: readonly string[] = ['__proto__'];

interface TypeShape {
  name?: string;
  fields?: { name: string; type: Type }[];
  types?: Type[];
  itemsType?: Type;
  valuesType?: Type;
  underlyingType?: Type;
}

/** The path of every forbidden field in `type` (`Outer.__proto__`), recursive schemas included; empty when none. */
export function findForbiddenFields(type: Type): string[] {
  const found: string[] = [];
  const seen = new Set<Type>();
  const visit = (current: Type, path: string): void => {
    if (seen.has(current)) return;
    seen.add(current);
    const shape = current as unknown as TypeShape;
    for (const field of shape.fields ?? []) {
      const fieldPath = `${path === '' ? (shape.name ?? 'record') : path}.${field.name}`;
      if (forbiddenFieldNames.includes(field.name)) found.push(fieldPath);
      visit(field.type, fieldPath);
    }
    for (const branch of shape.types ?? []) visit(branch, path);
    if (shape.itemsType) visit(shape.itemsType, `${path}[]`);
    if (shape.valuesType) visit(shape.valuesType, `${path}{}`);
    if (shape.underlyingType) visit(shape.underlyingType, path);
  };
  visit(type, '');
  return found;
}

/** The message naming forbidden fields, or undefined when the schema has none. */
export function forbiddenFieldsProblem(type: Type): string | undefined {
  const found = findForbiddenFields(type);
  if (found.length === 0) return undefined;
  return `the schema has a field named ${found.map((path) => `\`${path}\``).join(', ')}: refused, because it would set the decoded object's prototype (rename the field)`;
}

/**
 * HTML built by a tagged template that escapes every value it is given: a key, a header name, an error message
 * or a payload from a dead letter is text, never markup, wherever a page shows it. Only what the console itself
 * wrote (another `html` fragment, or {@link trustedHtml} on a constant) is inserted as markup.
 */

/** Markup the console produced; anything else put into a template is escaped. */
export class SafeHtml {
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  toString(): string {
    return this.text;
  }
}

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** `text` safe inside an element and inside a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (character) => entities[character]!);
}

/** A template value as markup: fragments as they are, lists joined, nothing for null/undefined/false, the rest escaped. */
function markupOf(value: unknown): string {
  if (value instanceof SafeHtml) return value.text;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(markupOf).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let text = strings[0]!;
  for (let index = 0; index < values.length; index++) text += markupOf(values[index]) + strings[index + 1]!;
  return new SafeHtml(text);
}

/** A constant the console wrote itself (never anything read from Kafka, Redis, a request or a database). */
export function trustedHtml(constant: string): SafeHtml {
  return new SafeHtml(constant);
}

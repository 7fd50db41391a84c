/**
 * Renders docs/configuration.md from the sources: for each options interface, its properties with their TSDoc
 * (description and `@defaultValue`) and type, and the rules of the zod schema that validates them (`optionsSchema`
 * or the named schema in the same file: integer, bounds, allowed values). Read with the TypeScript compiler API,
 * so the page changes when an option, its comment or its schema does; `npm run docs:config` writes it and
 * test/unit/docs/configuration-doc.test.ts fails when the committed page is stale.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** One options interface and the zod schema that validates it. */
export interface OptionsSource {
  title: string;
  file: string;
  interfaceName: string;
  /** The variable holding the zod object schema in `file`. @defaultValue `'optionsSchema'` */
  schemaName?: string;
  /** How the options are used, one sentence. */
  usage: string;
}

export const optionsSources: OptionsSource[] = [
  { title: 'OrderedConsumer', file: 'consumers/options.ts', interfaceName: 'OrderedConsumerOptions', usage: '`new OrderedConsumer(options)` from `orderly` or `orderly/consumers`.' },
  { title: 'Kafka client', file: 'core/kafka-client.ts', interfaceName: 'KafkaClientOptions', schemaName: 'kafkaClientOptionsSchema', usage: 'The `kafka` option of the consumer, and `createKafkaClient(options)` for the producer.' },
  { title: 'EventProducer', file: 'producers/options.ts', interfaceName: 'EventProducerOptions', usage: '`new EventProducer(options)` from `orderly` or `orderly/producers`.' },
  { title: 'SchemaRegistryClient', file: 'schemas/schema-registry-client.ts', interfaceName: 'SchemaRegistryClientOptions', usage: '`new SchemaRegistryClient(options)`: the producer\'s `registry`, the codec\'s `source`.' },
  { title: 'AvroCodec', file: 'schemas/avro-codec-options.ts', interfaceName: 'AvroCodecOptions', usage: '`new AvroCodec(options)`: the consumer\'s `decoder` for Avro values.' },
  { title: 'RedisIdempotencyStore', file: 'consumers/idempotency/redis-idempotency-store.ts', interfaceName: 'RedisIdempotencyStoreOptions', usage: 'The consumer\'s `idempotencyStore`.' },
  { title: 'PostgresInbox', file: 'consumers/idempotency/postgres-inbox.ts', interfaceName: 'PostgresInboxOptions', usage: '`new PostgresInbox(options)`; wrap the handler with `inbox.handler(...)`.' },
  { title: 'PostgresInbox batch mode', file: 'consumers/idempotency/postgres-inbox-batches.ts', interfaceName: 'InboxBatchOptions', usage: '`inbox.batchHandler(handler, options)`: group commit (docs/handlers.md).' },
  { title: 'LagMonitor', file: 'observability/lag-monitor-options.ts', interfaceName: 'LagMonitorOptions', usage: '`new LagMonitor(options)` from `orderly/observability`.' },
  { title: 'instrumentConsumer', file: 'observability/instrument-consumer.ts', interfaceName: 'InstrumentConsumerOptions', usage: '`instrumentConsumer(consumer, options)` from `orderly/observability`.' },
  { title: 'Observability server', file: 'observability/http.ts', interfaceName: 'ObservabilityServerOptions', usage: '`startObservabilityServer(options)`: `/metrics`, `/healthz`, `/readyz`.' },
  { title: 'OutboxWriter', file: 'outbox/outbox-options.ts', interfaceName: 'OutboxWriterOptions', schemaName: 'writerSchema', usage: '`new OutboxWriter(options)` from `orderly/outbox`; `add(client, entry)` inside the caller\'s transaction.' },
  { title: 'OutboxRelay', file: 'outbox/outbox-options.ts', interfaceName: 'OutboxRelayOptions', schemaName: 'relaySchema', usage: '`new OutboxRelay(options)` from `orderly/outbox` (or `orderly outbox relay`); see docs/outbox.md.' },
  { title: 'Topic settings (topics.yaml)', file: 'operations/topic-settings.ts', interfaceName: 'TopicSettings', schemaName: 'settingsSchema', usage: 'Each entry of `topics.yaml` (and `orderly topics` flags); `retention` takes `7d`, `12h`, `forever`.' },
  { title: 'CronScheduler', file: 'scheduling/options.ts', interfaceName: 'CronSchedulerOptions', usage: '`new CronScheduler(options)` from `orderly/scheduling` (and `orderly cron run` flags); see [scheduling.md](scheduling.md).' },
];

interface OptionRow {
  name: string;
  type: string;
  optional: boolean;
  description: string;
  defaultValue: string;
  rules: string;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function cell(text: string): string {
  return oneLine(text).replace(/\|/g, '\\|');
}

function jsDocOf(node: ts.Node, source: ts.SourceFile): { description: string; defaultValue: string } {
  const docs = (node as { jsDoc?: ts.JSDoc[] }).jsDoc ?? [];
  let description = '';
  let defaultValue = '';
  for (const doc of docs) {
    if (doc.comment) description += ` ${ts.getTextOfJSDocComment(doc.comment) ?? ''}`;
    for (const tag of doc.tags ?? []) {
      const text = ts.getTextOfJSDocComment(tag.comment) ?? '';
      if (tag.tagName.text === 'defaultValue' || tag.tagName.text === 'default') defaultValue = text;
      else if (tag.tagName.text !== 'internal') description += ` @${tag.tagName.text} ${text}`;
    }
  }
  void source;
  return { description: oneLine(description), defaultValue: oneLine(defaultValue) };
}

/** Local `const` initializers of the file, to follow a schema written as `positiveInt.max(10)`. */
function localConstants(source: ts.SourceFile): Map<string, ts.Expression> {
  const constants = new Map<string, ts.Expression>();
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      if (ts.isIdentifier(declaration.name) && declaration.initializer) constants.set(declaration.name.text, declaration.initializer);
    }
  }
  return constants;
}

/** The calls of a zod chain, innermost first: `z.number().int().max(5)` -> number(), int(), max(5). */
function chainOf(expression: ts.Expression, constants: Map<string, ts.Expression>, source: ts.SourceFile, depth = 0): { name: string; args: string[] }[] {
  if (depth > 20) return [];
  if (ts.isIdentifier(expression) && constants.has(expression.text)) return chainOf(constants.get(expression.text)!, constants, source, depth + 1);
  if (ts.isCallExpression(expression) && ts.isPropertyAccessExpression(expression.expression)) {
    const inner = expression.expression.expression;
    const call = { name: expression.expression.name.text, args: expression.arguments.map((argument) => argument.getText(source)) };
    if (ts.isIdentifier(inner) && inner.text === 'z') return [call];
    return [...chainOf(inner, constants, source, depth + 1), call];
  }
  return [];
}

/** A literal as written in the source, for a reader: digit separators dropped (`30_000`), quotes taken off. */
function literal(text: string): string {
  return text.replace(/(\d)_(?=\d)/g, '$1').replace(/^'(.*)'$/, '$1');
}

/** The rules a zod chain enforces, for a reader: "integer, >= 1, <= 100000; one of ...". */
function rulesOf(chain: { name: string; args: string[] }[]): string {
  const rules: string[] = [];
  for (const { name, args } of chain) {
    const first = args[0] !== undefined ? literal(args[0]) : undefined;
    switch (name) {
      case 'int':
        rules.push('integer');
        break;
      case 'positive':
        rules.push('> 0');
        break;
      case 'nonnegative':
        rules.push('>= 0');
        break;
      case 'min':
        if (first !== undefined && /^-?[\d.]+$/.test(first)) rules.push(chain.some((call) => call.name === 'string' || call.name === 'array') ? `length >= ${first}` : `>= ${first}`);
        break;
      case 'max':
        if (first !== undefined && /^-?[\d.*\s]+$/.test(first)) rules.push(chain.some((call) => call.name === 'array') ? `at most ${first} items` : `<= ${first}`);
        break;
      case 'enum':
        rules.push(`one of ${(args[0] ?? '').replace(/[[\]\s]/g, '').split(',').filter(Boolean).map((value) => `\`${literal(value)}\``).join(', ')}`);
        break;
      case 'regex':
        rules.push('pattern checked');
        break;
      case 'array':
        rules.push('array');
        break;
      default:
        break;
    }
  }
  return [...new Set(rules)].join(', ');
}

/** The property chains of the zod object schema `name` in `source` (following `.extend`, `.strict` and the like). */
function schemaProperties(source: ts.SourceFile, name: string): Map<string, { name: string; args: string[] }[]> {
  const constants = localConstants(source);
  const properties = new Map<string, { name: string; args: string[] }[]>();
  const visit = (expression: ts.Expression | undefined, depth = 0): void => {
    if (!expression || depth > 20) return;
    if (ts.isIdentifier(expression) && constants.has(expression.text)) return visit(constants.get(expression.text), depth + 1);
    if (!ts.isCallExpression(expression)) return;
    const callee = expression.expression;
    if (ts.isPropertyAccessExpression(callee) && ['object', 'extend'].includes(callee.name.text)) {
      const shape = expression.arguments[0];
      if (shape && ts.isObjectLiteralExpression(shape)) {
        for (const property of shape.properties) {
          if (ts.isPropertyAssignment(property) && (ts.isIdentifier(property.name) || ts.isStringLiteral(property.name))) {
            properties.set(property.name.text, chainOf(property.initializer, constants, source));
          }
        }
      }
    }
    if (ts.isPropertyAccessExpression(callee)) visit(callee.expression, depth + 1);
  };
  visit(constants.get(name));
  return properties;
}

function optionRows(root: string, entry: OptionsSource): OptionRow[] {
  const path = join(root, entry.file);
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const declaration = source.statements.find((statement): statement is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(statement) && statement.name.text === entry.interfaceName);
  if (!declaration) throw new Error(`${entry.file} has no interface ${entry.interfaceName}`);
  const schema = schemaProperties(source, entry.schemaName ?? 'optionsSchema');
  const rows: OptionRow[] = [];
  for (const member of declaration.members) {
    if (!ts.isPropertySignature(member) || !member.name) continue;
    const name = member.name.getText(source);
    const { description, defaultValue } = jsDocOf(member, source);
    const chain = schema.get(name) ?? schema.get(name.replace(/Ms$/, '')) ?? [];
    const schemaDefault = chain.find((call) => call.name === 'default')?.args[0];
    rows.push({
      name,
      type: member.type ? oneLine(member.type.getText(source)) : 'unknown',
      optional: Boolean(member.questionToken),
      description,
      defaultValue: defaultValue || (schemaDefault ? `\`${literal(schemaDefault)}\`` : ''),
      rules: rulesOf(chain),
    });
  }
  return rows;
}

/** The whole page, deterministic for the same sources. */
export function renderConfigurationDoc(root: string): string {
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated by `npm run docs:config` (scripts/configuration-doc.ts) from the option interfaces, their TSDoc and',
    '     their zod schemas. Do not edit by hand: change the source and run the script; a unit test fails when this',
    '     page is stale. -->',
    '',
    'Every options object is validated once, when it is constructed: all problems are reported together in one',
    '`ConfigurationError` (`error.problems`), each naming the option and what it must be. "Rules" are those the',
    'schema enforces; a required option has no default.',
    '',
  ];
  for (const entry of optionsSources) lines.push(`- [${entry.title}](#${entry.title.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')})`);
  for (const entry of optionsSources) {
    lines.push('', `## ${entry.title}`, '', `${entry.usage} Source: \`${entry.file}\` (\`${entry.interfaceName}\`).`, '');
    lines.push('| option | type | default | rules | what it does |', '|---|---|---|---|---|');
    for (const row of optionRows(root, entry)) {
      const defaultValue = row.defaultValue || (row.optional ? '-' : '**required**');
      lines.push(`| \`${row.name}\` | \`${cell(row.type)}\` | ${cell(defaultValue)} | ${cell(row.rules) || '-'} | ${cell(row.description) || '-'} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

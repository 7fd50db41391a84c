/**
 * What both services of the orders example read from the environment, with the defaults of the local stack
 * (`npx orderly stack up` prints these variables). The topic and group names are settings so that a test can
 * run the example on topics of its own; the event types do not depend on them.
 */
import { readFileSync } from 'node:fs';

export interface OrdersSettings {
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  databaseUrl: string;
  redisUrl: string;
  /** Carries OrderPlaced, keyed by order id. */
  ordersTopic: string;
  /** Carries OrderConfirmed, keyed by order id. */
  confirmationsTopic: string;
  /** The consumer group of order-confirmer: its retry tiers and DLT are named after it. */
  confirmerGroup: string;
  /** The consumer group of orders-api (it reads the confirmations). */
  apiGroup: string;
  /** orders-api binds 127.0.0.1 on this port (0: any free port; the service prints the one it got). */
  port: number;
  /** The bearer token orders-api asks for (start.ts makes one when unset). */
  apiToken: string;
  logLevel: string;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`the orders example needs ${name} (run it with \`npm run example:orders\`, which sets it)`);
  return value;
}

export function ordersSettings(env: NodeJS.ProcessEnv = process.env): OrdersSettings {
  return {
    kafkaBrokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    schemaRegistryUrl: env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081',
    databaseUrl: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    ordersTopic: env.ORDERS_TOPIC ?? 'orders',
    confirmationsTopic: env.CONFIRMATIONS_TOPIC ?? 'order-confirmations',
    confirmerGroup: env.CONFIRMER_GROUP ?? 'order-confirmer',
    apiGroup: env.ORDERS_API_GROUP ?? 'orders-api',
    port: Number(env.PORT ?? 3000),
    apiToken: required(env, 'ORDERS_API_TOKEN'),
    logLevel: env.LOG_LEVEL ?? 'warn',
  };
}

/** The text of a schema of ./schemas (`OrderPlaced.avsc`). */
export function schemaText(file: string): string {
  return readFileSync(new URL(`schemas/${file}`, import.meta.url), 'utf8');
}

/**
 * Subjects are named after the record (`shop.orders.OrderPlaced`), not the topic, so the schemas are registered
 * once (`orderly schemas register --dir schemas --subject-name-strategy record`) whatever the topics are called.
 */
export const subjectNameStrategy = 'record';

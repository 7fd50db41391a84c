/**
 * Consumers: the ordered consumer (per-key lanes, offset tracking, idempotency, retries, dead letters,
 * backpressure). Built on `core/kafka-client.ts`; see DESIGN.md for the contract it keeps.
 */
export {};

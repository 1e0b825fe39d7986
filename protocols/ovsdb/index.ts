// RFC 7047 (OVSDB) codec: framing, data model, schema, transact operations,
// JSON-RPC envelopes and monitors. Pure: no sockets, timers or state.
export * from './errors.js';
export * from './framer.js';
export * from './schema.js';
export * from './datum.js';
export * from './operations.js';
export * from './monitor.js';
export * from './rpc.js';

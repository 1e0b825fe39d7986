export * from './addressing.js';
export * from './allocator.js';
export * from './leases.js';
export * from './machine.js';
export * from './options.js';
export * from './rate.js';
export * from './server.js';
export * from './view.js';

// weft's forwarding pipeline, pure: the desired flows of a host, their
// cookies and text, and a packet-walk simulator over them.
export * from './tables.js';
export * from './cookie.js';
export * from './pipeline.js';
export * from './text.js';
export * from './simulate.js';

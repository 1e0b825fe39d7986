// OpenFlow 1.3 with the Nicira extensions and the ONF bundle extension that
// Open vSwitch supports: a pure codec, bytes <-> typed values, plus the text
// ovs-ofctl prints for flows.
export * from './header.js';
export * from './oxm.js';
export * from './actions.js';
export * from './instructions.js';
export * from './nicira.js';
export * from './multipart.js';
export * from './bundle.js';
export * from './messages.js';
export * from './errors.js';
export * from './text.js';

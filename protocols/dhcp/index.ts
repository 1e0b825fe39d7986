export * from './errors.js';
export * from './message.js';
export * from './options.js';
export { decodeNameList, encodeNameList, decodeWireName, encodeWireName } from './dns-name.js';

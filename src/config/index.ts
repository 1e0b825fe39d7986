export * from './flags.js';
export * from './load.js';
export * from './setting.js';
export * from './settings.js';
export * from './target.js';

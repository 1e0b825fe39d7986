export * from './errors.js';
export * from './advert.js';
export * from './replay.js';

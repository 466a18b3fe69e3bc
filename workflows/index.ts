export * from './trigger';
export * from './release';
export * from './destination';
export * from './manual-release';
export * from './environment';

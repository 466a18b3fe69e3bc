export * from './trigger';
export * from './project';
export * from './delivery';
export * from './manual-release';

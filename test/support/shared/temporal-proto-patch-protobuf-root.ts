// Loaded once per jest worker, with the definitions it patches (jest.environment.config.js says why).
declare const __feedTriggersSharedModule: (id: string) => unknown;
export = __feedTriggersSharedModule('@temporalio/proto/lib/patch-protobuf-root');

// Temporal's protobuf definitions, loaded once per jest worker (jest.environment.config.js says why).
declare const __feedTriggersSharedModule: (id: string) => unknown;
export = __feedTriggersSharedModule('@temporalio/proto');

// Loaded once per jest worker, with the definitions it visits (jest.environment.config.js says why).
declare const __feedTriggersSharedModule: (id: string) => unknown;
export = __feedTriggersSharedModule('@temporalio/proto/lib/payload-visitor.generated');

// Loaded once per jest worker, with the definitions it visits (jest.environment.config.js says why).
module.exports = globalThis.__feedTriggersSharedModule('@temporalio/proto/lib/payload-visitor.generated');

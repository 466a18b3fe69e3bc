// Loaded once per jest worker, with the definitions it patches (jest.environment.config.js says why).
module.exports = globalThis.__feedTriggersSharedModule('@temporalio/proto/lib/patch-protobuf-root');

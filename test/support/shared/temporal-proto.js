// Temporal's protobuf definitions, loaded once per jest worker (jest.environment.config.js says why).
module.exports = globalThis.__feedTriggersSharedModule('@temporalio/proto');

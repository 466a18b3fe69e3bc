/**
 * Integration and system tests run against real servers on a shared 2-core box, where a test can lose a race
 * with the machine rather than with the code (a CPU starved for seconds, a server that answers late). Each
 * such test gets one more try; the first failure is printed in full before the retry, so a flaky test stays
 * visible in the log and can be fixed. A test that fails twice fails the run: a deterministic bug still
 * fails every time. Unit tests (pure, no servers) get no retry.
 */
jest.retryTimes(1, { logErrorsBeforeRetry: true });

export { createTestDriver, TestDriver, type TestDriverOptions } from './test-driver.js';
export type { TestInputRecord, TestOutputRecord, TestDeadLetter } from './test-records.js';

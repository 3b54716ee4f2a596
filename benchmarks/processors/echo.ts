import { defineProcessor } from '../../src/processor/index.js';

/** The trivial processor of the pipeline benchmark: returns the value unchanged. */
export default defineProcessor({ process: (record) => record.value });

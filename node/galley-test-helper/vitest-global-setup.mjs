// SPDX-License-Identifier: MIT
// Vitest globalSetup: one galley for the run, exported through GALLEY_ENDPOINT and
// AWS_ENDPOINT_URL_LAMBDA; the returned function stops it. vitest.config.mjs:
//   test: { globalSetup: ['galley-test-helper/vitest-global-setup'],
//           setupFiles: ['galley-test-helper/jest-setup'], globals: true }
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { startGalley, exportEnv } = require('./index.js');

export default async function galleyGlobalSetup() {
  const g = await startGalley();
  exportEnv(g);
  return async () => { await g.stop(); };
}

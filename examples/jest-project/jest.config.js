// SPDX-License-Identifier: MIT
// One galley for the run (globalSetup/globalTeardown), a reset before each test (jest-setup).
module.exports = {
  testEnvironment: 'node',
  globalSetup: 'galley-test-helper/jest-global-setup',
  globalTeardown: 'galley-test-helper/jest-global-teardown',
  setupFilesAfterEnv: ['galley-test-helper/jest-setup'],
  testTimeout: 60000,
};

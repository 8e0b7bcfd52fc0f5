// SPDX-License-Identifier: MIT
// Jest globalSetup: one galley for the whole run, exported to the test workers through
// GALLEY_ENDPOINT and AWS_ENDPOINT_URL_LAMBDA (set here, before Jest starts its workers).
// jest.config.js: globalSetup: 'galley-test-helper/jest-global-setup',
//                 globalTeardown: 'galley-test-helper/jest-global-teardown',
//                 setupFilesAfterEnv: ['galley-test-helper/jest-setup']
'use strict';
const { startGalley, exportEnv } = require('./index.js');

module.exports = async function galleyGlobalSetup() {
  const g = await startGalley();
  exportEnv(g);
  globalThis.__GALLEY__ = g;
};

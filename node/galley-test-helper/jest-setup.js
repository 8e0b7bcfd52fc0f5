// SPDX-License-Identifier: MIT
// Jest setupFilesAfterEnv (works for Vitest's setupFiles too): a reset before each test, so
// each test starts with no environment (cold) unless it warms one; `galley` is the daemon's
// controls for the tests (galley.warm('Fn', 2), galley.cold('Fn'), galley.lambdaClient()).
'use strict';
const { connect } = require('./index.js');

const galley = connect();
globalThis.galley = galley;
beforeEach(() => galley.reset());
module.exports = { galley };

// SPDX-License-Identifier: MIT
// Jest globalTeardown: stops the daemon jest-global-setup started (by its pid).
'use strict';
module.exports = async function galleyGlobalTeardown() {
  if (globalThis.__GALLEY__) await globalThis.__GALLEY__.stop();
};

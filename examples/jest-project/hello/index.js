// SPDX-License-Identifier: MIT
// The Jest sample's function: greets, and counts the invokes its environment has answered.
let invokes = 0;
exports.handler = async (event) => ({ message: `Hello, ${event.name || 'world'}!`, invokes: ++invokes });

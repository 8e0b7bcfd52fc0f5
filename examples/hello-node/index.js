// SPDX-License-Identifier: MIT
// index.js: the Node.js example function (runtime nodejs20.x, handler index.handler).
// Greets the event's "name" with $GREETING, counts the invocations this execution environment
// has served in a module-level counter (it restarts at 1 after a cold start), and logs one line.
'use strict';

let invocations = 0;

exports.handler = async (event, context) => {
  invocations += 1;
  const name = event && typeof event === 'object' && 'name' in event ? event.name : 'world';
  const greeting = process.env.GREETING || 'Hello';
  console.log(`hello-node: request ${context.awsRequestId} for ${name} (invocation ${invocations})`);
  return {
    message: `${greeting}, ${name}!`,
    invocations,
    requestId: context.awsRequestId,
  };
};

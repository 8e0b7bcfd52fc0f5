// SPDX-License-Identifier: MIT
//
// Tests of runtimes/nodejs/bootstrap, driven through a fake Runtime API:
// results, callbacks and callbackWaitsForEmptyEventLoop, errors, the context
// object, CommonJS and ES module handlers, init errors, log records, fatal
// errors during an invoke, response streaming.
// Run: node --test tests/runtimes/nodejs/bootstrap.test.js

'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const { runFunction, makeEvents, BOOTSTRAP } = require('./fake_runtime_api.js');

const T = { timeout: 20000 };
const LOG_RECORD = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t([^\t]*)\t([A-Z]+)\t([^\n]*)$/;

function onlyPost(result) {
  assert.equal(result.timedOut, false, `timed out; stdout=${result.stdout} stderr=${result.stderr}`);
  assert.equal(result.posts.length, 1, JSON.stringify(result.posts));
  return result.posts[0];
}

function recordsAt(result, level) {
  return result.logLines
    .map((line) => LOG_RECORD.exec(line))
    .filter((match) => match !== null && match[3] === level);
}

test('async handler: result is JSON-posted to /response with the encoded request id', T, async () => {
  const events = [{ id: 'id/with space+1', body: '{"name":"galley"}' }];
  const result = await runFunction({
    files: { 'index.js': 'exports.handler = async (event) => ({ hello: event.name, n: 1 });' },
    handler: 'index.handler',
    events,
  });
  const post = onlyPost(result);
  assert.equal(post.kind, 'response');
  assert.equal(post.rawId, encodeURIComponent('id/with space+1'));
  assert.equal(post.id, 'id/with space+1');
  assert.equal(post.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(post.body), { hello: 'galley', n: 1 });
  assert.equal(result.state.nextCount, 2, 'asks for the next event after answering');
});

test('undefined result becomes null', T, async () => {
  const result = await runFunction({
    files: { 'index.js': 'exports.handler = async () => undefined;' },
    handler: 'index.handler',
  });
  assert.equal(onlyPost(result).body, 'null');
});

test('callback handler: callback(null, result)', T, async () => {
  const result = await runFunction({
    files: { 'index.js': 'exports.handler = (event, context, callback) => { callback(null, { via: "callback" }); };' },
    handler: 'index.handler',
  });
  const post = onlyPost(result);
  assert.equal(post.kind, 'response');
  assert.deepEqual(JSON.parse(post.body), { via: 'callback' });
});

test('callbackWaitsForEmptyEventLoop=true waits for a pending timer before posting', T, async () => {
  const events = makeEvents(1);
  const result = await runFunction({
    files: {
      'index.js': `exports.handler = (event, context, callback) => {
        setTimeout(() => console.log('timer fired'), 400);
        callback(null, 'early');
      };`,
    },
    handler: 'index.handler',
    events,
  });
  const post = onlyPost(result);
  assert.equal(post.body, '"early"');
  const waited = post.at - result.state.answeredAt[events[0].id];
  assert.ok(waited >= 350, `posted after ${waited} ms, expected the 400 ms timer to run first`);
  assert.ok(result.stdout.includes('timer fired'));
});

test('callbackWaitsForEmptyEventLoop=false posts at once', T, async () => {
  const events = makeEvents(1);
  const result = await runFunction({
    files: {
      'index.js': `exports.handler = (event, context, callback) => {
        context.callbackWaitsForEmptyEventLoop = false;
        setTimeout(() => console.log('late timer'), 3000);
        callback(null, 'now');
      };`,
    },
    handler: 'index.handler',
    events,
  });
  const post = onlyPost(result);
  assert.equal(post.body, '"now"');
  const waited = post.at - result.state.answeredAt[events[0].id];
  assert.ok(waited < 2000, `posted after ${waited} ms, expected no wait for the 3 s timer`);
});

test('plain handler that never calls back: null once the event loop drains', T, async () => {
  const result = await runFunction({
    files: { 'index.js': 'exports.handler = function (event, context, callback) { setTimeout(() => {}, 50); };' },
    handler: 'index.handler',
  });
  const post = onlyPost(result);
  assert.equal(post.kind, 'response');
  assert.equal(post.body, 'null');
});

test('async handler whose promise never settles: Runtime.NodeJsExit', T, async () => {
  const result = await runFunction({
    files: { 'index.js': 'exports.handler = async () => { await new Promise(() => {}); };' },
    handler: 'index.handler',
  });
  const post = onlyPost(result);
  assert.equal(post.kind, 'error');
  const body = JSON.parse(post.body);
  assert.equal(body.errorType, 'Runtime.NodeJsExit');
  assert.match(body.errorMessage, /Promise that was never settled/);
});

test('thrown Error: /error body, error type header, Invoke Error record', T, async () => {
  const events = makeEvents(1);
  const result = await runFunction({
    files: { 'index.js': 'exports.handler = async () => { const e = new TypeError("boom"); e.code = "E_BOOM"; throw e; };' },
    handler: 'index.handler',
    events,
  });
  const post = onlyPost(result);
  assert.equal(post.kind, 'error');
  assert.equal(post.headers['content-type'], 'application/json');
  assert.equal(post.headers['lambda-runtime-function-error-type'], 'TypeError');
  const body = JSON.parse(post.body);
  assert.equal(body.errorType, 'TypeError');
  assert.equal(body.errorMessage, 'boom');
  assert.ok(Array.isArray(body.trace));
  assert.equal(body.trace[0], 'TypeError: boom');
  assert.match(body.trace[1], /^\s+at .*index\.js/);

  const errors = recordsAt(result, 'ERROR');
  assert.equal(errors.length, 1, result.stdout);
  assert.equal(errors[0][2], events[0].id);
  assert.ok(errors[0][4].startsWith('Invoke Error \t{'), errors[0][4]);
  const logged = JSON.parse(errors[0][4].slice('Invoke Error \t'.length));
  assert.equal(logged.errorType, 'TypeError');
  assert.equal(logged.errorMessage, 'boom');
  assert.equal(logged.code, 'E_BOOM');
  assert.ok(Array.isArray(logged.stack));
});

test('synchronous throw and callback(error) are errors too', T, async () => {
  const sync = await runFunction({
    files: { 'index.js': 'exports.handler = (event, context, cb) => { throw new RangeError("sync"); };' },
    handler: 'index.handler',
  });
  const syncBody = JSON.parse(onlyPost(sync).body);
  assert.equal(syncBody.errorType, 'RangeError');
  assert.equal(syncBody.errorMessage, 'sync');

  const viaCallback = await runFunction({
    files: { 'index.js': 'exports.handler = (event, context, cb) => { cb(new Error("via cb")); };' },
    handler: 'index.handler',
  });
  const post = onlyPost(viaCallback);
  assert.equal(post.kind, 'error');
  assert.equal(JSON.parse(post.body).errorMessage, 'via cb');
});

test('non-Error throws are reported with typeof as errorType', T, async () => {
  const result = await runFunction({
    files: { 'index.js': 'exports.handler = async () => { throw "just a string"; };' },
    handler: 'index.handler',
  });
  assert.deepEqual(JSON.parse(onlyPost(result).body), {
    errorType: 'string',
    errorMessage: 'just a string',
    trace: [],
  });
});

test('legacy context.succeed / context.fail', T, async () => {
  const ok = await runFunction({
    files: { 'index.js': 'exports.handler = (event, context) => { context.succeed({ legacy: true }); context.fail(new Error("ignored")); };' },
    handler: 'index.handler',
  });
  const okPost = onlyPost(ok);
  assert.equal(okPost.kind, 'response');
  assert.deepEqual(JSON.parse(okPost.body), { legacy: true });

  const failed = await runFunction({
    files: { 'index.js': 'exports.handler = (event, context) => { context.fail(); };' },
    handler: 'index.handler',
  });
  const failPost = onlyPost(failed);
  assert.equal(failPost.kind, 'error');
  assert.deepEqual(JSON.parse(failPost.body), { errorType: 'string', errorMessage: 'handled', trace: [] });
});

test('context fields, remaining time, client context, identity, trace id', T, async () => {
  const deadline = Date.now() + 5000;
  const events = makeEvents(1, {
    headers: {
      'Lambda-Runtime-Deadline-Ms': String(deadline),
      'Lambda-Runtime-Invoked-Function-Arn': 'arn:aws:lambda:us-east-1:123456789012:function:fn:live',
      'Lambda-Runtime-Client-Context': JSON.stringify({ client: { app_title: 'app' }, custom: { k: 'v' }, env: { e: 1 } }),
      'Lambda-Runtime-Cognito-Identity': JSON.stringify({ cognitoIdentityId: 'cid', cognitoIdentityPoolId: 'pool' }),
      'Lambda-Runtime-Trace-Id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    },
  });
  const result = await runFunction({
    files: {
      'index.js': `exports.handler = async (event, context) => ({
        functionName: context.functionName,
        functionVersion: context.functionVersion,
        invokedFunctionArn: context.invokedFunctionArn,
        memoryLimitInMB: context.memoryLimitInMB,
        awsRequestId: context.awsRequestId,
        logGroupName: context.logGroupName,
        logStreamName: context.logStreamName,
        identity: context.identity,
        clientContext: context.clientContext,
        remaining: context.getRemainingTimeInMillis(),
        waits: context.callbackWaitsForEmptyEventLoop,
        hasLegacy: [typeof context.done, typeof context.succeed, typeof context.fail],
        traceEnv: process.env._X_AMZN_TRACE_ID,
      });`,
    },
    handler: 'index.handler',
    events,
  });
  const body = JSON.parse(onlyPost(result).body);
  assert.equal(body.functionName, 'fn');
  assert.equal(body.functionVersion, '$LATEST');
  assert.equal(body.invokedFunctionArn, 'arn:aws:lambda:us-east-1:123456789012:function:fn:live');
  assert.equal(body.memoryLimitInMB, '256');
  assert.equal(body.awsRequestId, events[0].id);
  assert.equal(body.logGroupName, '/aws/lambda/fn');
  assert.equal(body.logStreamName, '2026/01/15/[$LATEST]0123456789abcdef0123456789abcdef');
  assert.deepEqual(body.identity, { cognitoIdentityId: 'cid', cognitoIdentityPoolId: 'pool' });
  assert.deepEqual(body.clientContext, { client: { app_title: 'app' }, custom: { k: 'v' }, env: { e: 1 } });
  assert.ok(body.remaining > 0 && body.remaining <= 5000, `remaining ${body.remaining}`);
  assert.equal(body.waits, true);
  assert.deepEqual(body.hasLegacy, ['function', 'function', 'function']);
  assert.equal(body.traceEnv, 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1');
});

test('ES module handler (.mjs) with top-level await', T, async () => {
  const result = await runFunction({
    files: {
      'index.mjs': `const ready = await new Promise((resolve) => setTimeout(() => resolve('tla'), 20));
        export const handler = async () => ({ kind: 'mjs', ready });`,
    },
    handler: 'index.handler',
  });
  assert.deepEqual(JSON.parse(onlyPost(result).body), { kind: 'mjs', ready: 'tla' });
});

test('.js under package.json "type":"module" is an ES module', T, async () => {
  const result = await runFunction({
    files: {
      'package.json': '{"type":"module"}',
      'app.js': 'export async function handler() { return { kind: typeof require }; }',
    },
    handler: 'app.handler',
  });
  assert.deepEqual(JSON.parse(onlyPost(result).body), { kind: 'undefined' });
});

test('.cjs and CommonJS .js handlers', T, async () => {
  const cjs = await runFunction({
    files: { 'package.json': '{"type":"module"}', 'legacy.cjs': 'exports.handler = async () => typeof module;' },
    handler: 'legacy.handler',
  });
  assert.equal(onlyPost(cjs).body, '"object"');

  const plain = await runFunction({
    files: { 'index.js': 'module.exports.handler = async () => typeof require;' },
    handler: 'index.handler',
  });
  assert.equal(onlyPost(plain).body, '"function"');
});

test('handler in a subdirectory and nested function path', T, async () => {
  const sub = await runFunction({
    files: { 'src/app.js': 'exports.handler = async () => "from src";' },
    handler: 'src/app.handler',
  });
  assert.equal(onlyPost(sub).body, '"from src"');

  const nested = await runFunction({
    files: { 'app.js': 'exports.nested = { fn: async () => "nested fn" };' },
    handler: 'app.nested.fn',
  });
  assert.equal(onlyPost(nested).body, '"nested fn"');
});

async function runInitFailure(files, handler) {
  const result = await runFunction({ files, handler, until: () => false, timeoutMs: 8000 });
  assert.equal(result.timedOut, false, `runtime did not exit; stdout=${result.stdout}`);
  assert.notEqual(result.exitCode, 0);
  assert.equal(result.state.nextCount, 0, 'no /next after a failed init');
  assert.equal(result.posts.length, 1, JSON.stringify(result.posts));
  const post = result.posts[0];
  assert.equal(post.kind, 'init-error');
  const body = JSON.parse(post.body);
  assert.equal(post.headers['lambda-runtime-function-error-type'], body.errorType);
  assert.ok(Array.isArray(body.trace));
  const uncaught = recordsAt(result, 'ERROR').filter((m) => m[4].startsWith('Uncaught Exception \t'));
  assert.equal(uncaught.length, 1, result.stdout);
  assert.equal(uncaught[0][2], 'undefined', 'no request id during init');
  return { body, result };
}

test('init error: Runtime.ImportModuleError for a missing module', T, async () => {
  const { body, result } = await runInitFailure({ 'other.js': '' }, 'missing.handler');
  assert.equal(body.errorType, 'Runtime.ImportModuleError');
  assert.match(body.errorMessage, /^Error: Cannot find module 'missing'\nRequire stack:/);
  assert.equal(result.exitCode, 129);
});

test('init error: Runtime.ImportModuleError for a missing dependency', T, async () => {
  const { body } = await runInitFailure({ 'index.js': 'require("no-such-package-xyz");' }, 'index.handler');
  assert.equal(body.errorType, 'Runtime.ImportModuleError');
  assert.match(body.errorMessage, /Cannot find module 'no-such-package-xyz'/);
});

test('init error: Runtime.HandlerNotFound (missing, not a function)', T, async () => {
  const missing = await runInitFailure({ 'index.js': 'exports.other = () => 1;' }, 'index.handler');
  assert.equal(missing.body.errorType, 'Runtime.HandlerNotFound');
  assert.equal(missing.body.errorMessage, 'index.handler is undefined or not exported');

  const notFunction = await runInitFailure({ 'index.js': 'exports.handler = 42;' }, 'index.handler');
  assert.equal(notFunction.body.errorType, 'Runtime.HandlerNotFound');
  assert.equal(notFunction.body.errorMessage, 'index.handler is not a function');
});

test('init error: Runtime.MalformedHandlerName', T, async () => {
  const noDot = await runInitFailure({ 'index.js': 'exports.handler = () => 1;' }, 'index');
  assert.equal(noDot.body.errorType, 'Runtime.MalformedHandlerName');
  assert.equal(noDot.body.errorMessage, 'Bad handler');

  const upward = await runInitFailure({ 'index.js': '' }, '../etc/passwd.handler');
  assert.equal(upward.body.errorType, 'Runtime.MalformedHandlerName');
  assert.match(upward.body.errorMessage, /^'\.\.\/etc\/passwd\.handler' is not a valid handler name/);
});

test('init error: Runtime.UserCodeSyntaxError (CommonJS and ESM)', T, async () => {
  const cjs = await runInitFailure({ 'index.js': 'exports.handler = async () => {;' }, 'index.handler');
  assert.equal(cjs.body.errorType, 'Runtime.UserCodeSyntaxError');
  assert.match(cjs.body.errorMessage, /^SyntaxError: /);

  const esm = await runInitFailure({ 'index.mjs': 'export const handler = async () => { return };;; }' }, 'index.handler');
  assert.equal(esm.body.errorType, 'Runtime.UserCodeSyntaxError');
});

test('init error: a module that throws keeps its own error type', T, async () => {
  const { body } = await runInitFailure({ 'index.js': 'throw new RangeError("bad config");' }, 'index.handler');
  assert.equal(body.errorType, 'RangeError');
  assert.equal(body.errorMessage, 'bad config');
});

test('console records: format, levels, util.format, multi-line as one record', T, async () => {
  const events = makeEvents(1);
  const result = await runFunction({
    files: {
      'index.js': `exports.handler = async () => {
        console.log('hello %d', 42, { a: 1 });
        console.info('info');
        console.warn('warn');
        console.error('error');
        console.debug('debug');
        console.trace('trace');
        console.log('line one\\nline two');
        return 'ok';
      };`,
    },
    handler: 'index.handler',
    events,
  });
  onlyPost(result);
  const lines = result.logLines;
  const expected = [
    ['INFO', 'hello 42 { a: 1 }'],
    ['INFO', 'info'],
    ['WARN', 'warn'],
    ['ERROR', 'error'],
    ['DEBUG', 'debug'],
    ['TRACE', 'trace'],
    ['INFO', 'line one\rline two'],
  ];
  assert.equal(lines.length, expected.length, JSON.stringify(lines));
  expected.forEach(([level, message], i) => {
    const match = LOG_RECORD.exec(lines[i]);
    assert.ok(match, `not a log record: ${JSON.stringify(lines[i])}`);
    assert.ok(!Number.isNaN(Date.parse(match[1])));
    assert.equal(match[2], events[0].id);
    assert.equal(match[3], level);
    assert.equal(match[4], message);
  });
});

test('JSON log format and log level filter', T, async () => {
  const events = makeEvents(1);
  const result = await runFunction({
    files: { 'index.js': 'exports.handler = async () => { console.debug("hidden"); console.warn("shown", 1); return 1; };' },
    handler: 'index.handler',
    events,
    env: { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'INFO' },
  });
  onlyPost(result);
  assert.equal(result.logLines.length, 1, result.stdout);
  const record = JSON.parse(result.logLines[0]);
  assert.equal(record.level, 'WARN');
  assert.equal(record.requestId, events[0].id);
  assert.equal(record.message, 'shown 1');
  assert.ok(!Number.isNaN(Date.parse(record.timestamp)));
});

test('log records reach stdout before the response is posted', T, async () => {
  const big = 1024 * 1024;
  let resumedAt = null;
  let bytesAtPost = null;
  const result = await runFunction({
    files: { 'index.js': `exports.handler = async () => { console.log('x'.repeat(${big})); return 'done'; };` },
    handler: 'index.handler',
    onSpawn(child, state, progress) {
      // Do not read the child's stdout for a while: a runtime that writes
      // synchronously cannot post before we read; one that buffers can.
      child.stdout.pause();
      setTimeout(() => {
        resumedAt = Date.now();
        child.stdout.resume();
      }, 1000);
      state.onPost = () => {
        bytesAtPost = progress.stdoutBytes;
      };
    },
  });
  const post = onlyPost(result);
  assert.equal(post.body, '"done"');
  assert.ok(resumedAt !== null && post.at >= resumedAt, 'response posted while its log record was unread');
  assert.ok(bytesAtPost >= big - 256 * 1024, `only ${bytesAtPost} bytes of the log record read at post time`);
});

test('module state survives across invokes', T, async () => {
  const result = await runFunction({
    files: { 'index.js': 'let count = 0; exports.handler = async () => ++count;' },
    handler: 'index.handler',
    events: makeEvents(2),
  });
  assert.equal(result.timedOut, false);
  assert.deepEqual(
    result.posts.map((p) => [p.kind, p.body]),
    [
      ['response', '1'],
      ['response', '2'],
    ],
  );
  assert.equal(result.exitCode, null, 'still running, parked in /next');
});

test('unhandled rejection during an invoke: Runtime.UnhandledPromiseRejection, exit 128', T, async () => {
  const result = await runFunction({
    files: {
      'index.js': `exports.handler = (event, context, cb) => {
        Promise.reject(new Error('nobody catches me'));
        setTimeout(() => cb(null, 'too late'), 2000);
      };`,
    },
    handler: 'index.handler',
    until: () => false,
  });
  assert.equal(result.timedOut, false);
  assert.equal(result.exitCode, 128);
  const post = onlyPost(result);
  assert.equal(post.kind, 'error');
  const body = JSON.parse(post.body);
  assert.equal(body.errorType, 'Runtime.UnhandledPromiseRejection');
  assert.equal(body.errorMessage, 'Error: nobody catches me');
  assert.ok(recordsAt(result, 'ERROR').some((m) => m[4].startsWith('Unhandled Promise Rejection \t')));
});

test('uncaught exception during an invoke: error posted, exit 129', T, async () => {
  const result = await runFunction({
    files: {
      'index.js': `exports.handler = (event, context, cb) => {
        setTimeout(() => { throw new Error('thrown from a timer'); }, 10);
      };`,
    },
    handler: 'index.handler',
    until: () => false,
  });
  assert.equal(result.timedOut, false);
  assert.equal(result.exitCode, 129);
  const body = JSON.parse(onlyPost(result).body);
  assert.equal(body.errorType, 'Error');
  assert.equal(body.errorMessage, 'thrown from a timer');
});

test('bad event JSON and unserializable results are errors, not crashes', T, async () => {
  const events = makeEvents(2);
  events[0].body = '{not json';
  const result = await runFunction({
    files: { 'index.js': 'exports.handler = async () => { const o = {}; o.self = o; return o; };' },
    handler: 'index.handler',
    events,
  });
  assert.equal(result.timedOut, false);
  assert.deepEqual(result.posts.map((p) => p.kind), ['error', 'error']);
  assert.equal(JSON.parse(result.posts[0].body).errorType, 'SyntaxError');
  assert.equal(JSON.parse(result.posts[1].body).errorMessage, 'Unable to stringify response body');
});

test('response streaming with awslambda.streamifyResponse', T, async () => {
  const result = await runFunction({
    files: {
      'index.mjs': `export const handler = awslambda.streamifyResponse(async (event, stream, context) => {
        stream.setContentType('text/plain');
        stream.write('part one, ');
        await new Promise((r) => setTimeout(r, 20));
        stream.end('part two');
      });`,
    },
    handler: 'index.handler',
  });
  const post = onlyPost(result);
  assert.equal(post.kind, 'response');
  assert.equal(post.headers['lambda-runtime-function-response-mode'], 'streaming');
  assert.equal(post.headers['transfer-encoding'], 'chunked');
  assert.equal(post.headers['content-type'], 'text/plain');
  assert.equal(post.body, 'part one, part two');
});

test('response streaming: error after the first byte goes into trailers', T, async () => {
  const result = await runFunction({
    files: {
      'index.mjs': `export const handler = awslambda.streamifyResponse(async (event, stream) => {
        stream.write('partial');
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('mid-stream failure');
      });`,
    },
    handler: 'index.handler',
  });
  const post = onlyPost(result);
  assert.equal(post.kind, 'response');
  assert.equal(post.body, 'partial');
  assert.equal(post.trailers['lambda-runtime-function-error-type'], 'Error');
  const errorBody = JSON.parse(Buffer.from(post.trailers['lambda-runtime-function-error-body'], 'base64').toString());
  assert.equal(errorBody.errorMessage, 'mid-stream failure');
});

test('without AWS_LAMBDA_RUNTIME_API the runtime exits non-zero with a message', T, async () => {
  const run = spawnSync(process.execPath, [BOOTSTRAP], {
    env: { PATH: process.env.PATH, _HANDLER: 'index.handler' },
    timeout: 10000,
    encoding: 'utf8',
  });
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /AWS_LAMBDA_RUNTIME_API/);
});

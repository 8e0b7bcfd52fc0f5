// SPDX-License-Identifier: MIT
//
// Test helper for the Node.js runtime: a fake Runtime API (2018-06-01) on
// 127.0.0.1:<ephemeral> that hands out queued events and records every
// request, plus runFunction(), which writes a handler directory, starts
// runtimes/nodejs/bootstrap against the fake API and collects what happened.
// Everything is bounded in time; children are killed and servers closed.

'use strict';

const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const BOOTSTRAP = path.resolve(__dirname, '../../../runtimes/nodejs/bootstrap');
const MAX_BODY_BYTES = 8 * 1024 * 1024;

// events: [{ id, body, headers }]; body is a string (default '{}').
function startFakeRuntimeApi(events) {
  const queue = events.slice();
  const state = {
    nextCount: 0,
    posts: [], // { kind: 'response'|'error'|'init-error', id, headers, body, at }
    answeredAt: {}, // request id -> ms when /next handed it out
    onPost: null,
  };
  const parked = [];

  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = req.url;
      if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
        state.nextCount++;
        const event = queue.shift();
        if (event === undefined) {
          parked.push(res); // long poll forever, like a frozen environment
          return;
        }
        const headers = Object.assign(
          {
            'Content-Type': 'application/json',
            'Lambda-Runtime-Aws-Request-Id': event.id,
            'Lambda-Runtime-Deadline-Ms': String(Date.now() + 30000),
            'Lambda-Runtime-Invoked-Function-Arn': 'arn:aws:lambda:us-east-1:123456789012:function:fn',
          },
          event.headers || {},
        );
        state.answeredAt[event.id] = Date.now();
        res.writeHead(200, headers);
        res.end(event.body === undefined ? '{}' : event.body);
        return;
      }
      let match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
      let record = null;
      if (req.method === 'POST' && match) {
        record = { kind: match[2], id: decodeURIComponent(match[1]), rawId: match[1] };
      } else if (req.method === 'POST' && url === '/2018-06-01/runtime/init/error') {
        record = { kind: 'init-error', id: null };
      }
      if (record === null) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end('{"errorType":"NotFound","errorMessage":"no such route"}');
        return;
      }
      Object.assign(record, { headers: req.headers, body, trailers: req.trailers, at: Date.now() });
      state.posts.push(record);
      res.writeHead(202, { 'Content-Type': 'application/json' });
      res.end('{"status":"OK"}');
      if (state.onPost) state.onPost(record);
    });
  });

  return listenLocal(server, state, () => {
    for (const res of parked) res.destroy();
    if (server.closeAllConnections) server.closeAllConnections();
  });
}

// server on 127.0.0.1:<ephemeral>: resolves to { port, state, close() };
// close() calls endConnections, then closes the server.
function listenLocal(server, state, endConnections) {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        state,
        close() {
          endConnections();
          return new Promise((done) => server.close(() => done()));
        },
      });
    });
  });
}

function writeTree(root, files) {
  for (const [relative, content] of Object.entries(files)) {
    const full = path.join(root, relative);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, content);
  }
}

let idCounter = 0;
function makeEvents(count, extra = {}) {
  const events = [];
  for (let i = 0; i < count; i++) {
    idCounter++;
    events.push(Object.assign({ id: `req-${process.pid}-${idCounter}`, body: JSON.stringify({ n: i }) }, extra));
  }
  return events;
}

// Runs the bootstrap for one function. Resolves when `until(state)` is true,
// the child exits, or `timeoutMs` passes (then timedOut is set).
async function runFunction({
  files,
  handler,
  events = makeEvents(1),
  env = {},
  until,
  timeoutMs = 10000,
  onSpawn,
  startApi = startFakeRuntimeApi, // (events) => { port, state: { posts }, close() }
}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'galley-node-rt-'));
  writeTree(dir, files);
  const api = await startApi(events);
  const expected = until || ((state) => state.posts.length >= events.length);
  const child = spawn(process.execPath, [BOOTSTRAP], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: Object.assign(
      {
        PATH: process.env.PATH,
        AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${api.port}`,
        _HANDLER: handler,
        LAMBDA_TASK_ROOT: dir,
        AWS_LAMBDA_FUNCTION_NAME: 'fn',
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/fn',
        AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/15/[$LATEST]0123456789abcdef0123456789abcdef',
        AWS_REGION: 'us-east-1',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x',
        TZ: ':UTC',
      },
      env,
    ),
  });
  const result = { dir, stdout: '', stderr: '', stdoutBytes: 0, exitCode: null, signal: null, timedOut: false };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    result.stdout += chunk;
    result.stdoutBytes += Buffer.byteLength(chunk);
  });
  child.stderr.on('data', (chunk) => {
    result.stderr += chunk;
  });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      result.exitCode = code;
      result.signal = signal;
      resolve();
    });
  });
  if (onSpawn) onSpawn(child, api.state, result);

  try {
    await new Promise((resolve) => {
      const timer = setTimeout(() => {
        result.timedOut = true;
        finish();
      }, timeoutMs);
      const poll = setInterval(() => {
        if (expected(api.state)) finish();
      }, 10);
      exited.then(() => setTimeout(finish, 50)); // let last pipe data arrive
      function finish() {
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      }
    });
    // a short grace so the log lines of the last invoke are read too
    await new Promise((resolve) => setTimeout(resolve, 30));
  } finally {
    if (result.exitCode === null && result.signal === null) {
      child.kill('SIGKILL');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
    }
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  result.state = api.state;
  result.posts = api.state.posts;
  result.events = events;
  result.logLines = result.stdout.split('\n').filter((line) => line !== '');
  return result;
}

module.exports = { runFunction, makeEvents, startFakeRuntimeApi, listenLocal, BOOTSTRAP };

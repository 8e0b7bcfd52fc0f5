// SPDX-License-Identifier: MIT
//
// Tests of the Node.js runtime's pipelining (runtimes/nodejs/bootstrap,
// RuntimeApiClient): each invocation's result goes out with a GET /next
// behind it in one write, the replies to both are read from one chunk, a
// connection lost before the GET's reply is replaced and the GET asked again,
// a fatal error's post is not pipelined (the process must exit), and a fatal
// error after the invoke was answered exits without a post.
// The fake Runtime API here works on raw sockets so that it can tell a
// pipelined request from one sent after the reply before it, and it holds a
// result's 202 until the GET /next pipelined behind it is answered, then
// writes both in one write, as galley's Runtime API does (src/http/reply.c).
// Run: node --test tests/runtimes/nodejs/pipeline.test.js

'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { runFunction, makeEvents, listenLocal } = require('./fake_runtime_api.js');

const T = { timeout: 20000 };
const NEXT = '/2018-06-01/runtime/invocation/next';
const RESULT = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/;
const ACCEPTED = 'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n';

function parseRequest(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const [method, url] = lines[0].split(' ');
  const headers = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] || 0);
  if (buf.length < end + 4 + length) return null;
  return { method, url, headers, body: buf.toString('utf8', end + 4, end + 4 + length), size: end + 4 + length };
}

function eventReply(event) {
  const body = Buffer.from(event.body === undefined ? '{}' : event.body);
  return (
    'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n' +
    `Lambda-Runtime-Aws-Request-Id: ${event.id}\r\n` +
    `Lambda-Runtime-Deadline-Ms: ${Date.now() + 30000}\r\n` +
    `Content-Length: ${body.length}\r\n\r\n${body}`
  );
}

// endAfter: { [n]: 'drop' | 'close' } ends the connection right after the
// 202 to the n-th result (1-based) instead of answering what follows it:
// 'drop' sends a plain 202 then FIN, 'close' a 202 with Connection: close.
function rawRuntimeApi(endAfter = {}) {
  return (events) => {
    const queue = events.slice();
    // requests: { method, url, conn, pipelined } in arrival order; pipelined:
    // it arrived while the reply to the request before it was not yet sent.
    const state = { requests: [], posts: [], connections: 0 };
    const sockets = new Set();
    const server = net.createServer((socket) => {
      const conn = ++state.connections;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      let buf = Buffer.alloc(0);
      let unanswered = 0;
      let held = '';
      let ended = false;
      const answer = (text) => {
        socket.write(held + text);
        unanswered -= held ? 2 : 1;
        held = '';
      };
      const handle = (req, more) => {
        if (req.method === 'GET' && req.url === NEXT) {
          const event = queue.shift();
          if (event !== undefined) answer(eventReply(event)); // else: parked, like a frozen environment
          return;
        }
        const match = RESULT.exec(req.url);
        if (req.method !== 'POST' || !match) {
          answer('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
          return;
        }
        state.posts.push({ kind: match[2], id: decodeURIComponent(match[1]), body: req.body, conn });
        const end = endAfter[state.posts.length];
        if (end) {
          ended = true;
          socket.end(ACCEPTED + (end === 'close' ? 'Connection: close\r\n' : '') + '\r\n{"status":"OK"}');
        } else if (more) {
          held = ACCEPTED + '\r\n{"status":"OK"}'; // goes out with the reply to the request behind it
        } else {
          answer(ACCEPTED + '\r\n{"status":"OK"}');
        }
      };
      socket.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        const parsed = [];
        for (let req = parseRequest(buf); req !== null && !ended; req = parseRequest(buf)) {
          buf = buf.subarray(req.size);
          const record = { method: req.method, url: req.url, conn, pipelined: unanswered > 0 };
          unanswered++;
          state.requests.push(record);
          parsed.push(req);
        }
        for (let i = 0; i < parsed.length && !ended; i++) handle(parsed[i], i + 1 < parsed.length);
      });
    });
    return listenLocal(server, state, () => {
      for (const socket of sockets) socket.destroy();
    });
  };
}

// The requests after the first GET, as "METHOD conn pipelined?" strings.
function shape(result) {
  return result.state.requests.map((r) => `${r.method === 'GET' ? 'next' : 'post'} c${r.conn}${r.pipelined ? ' pipelined' : ''}`);
}

// A plain (non-async) handler whose event says how it answers.
const MODES_HANDLER = `
exports.handler = (event, context, callback) => {
  switch (event.mode) {
    case 'callback': callback(null, 'cb'); return undefined;
    case 'wait': setTimeout(() => console.log('timer done'), 30); callback(null, 'waited'); return undefined;
    case 'nowait': context.callbackWaitsForEmptyEventLoop = false; setTimeout(() => {}, 30); callback(null, 'nowait'); return undefined;
    case 'throw': throw new Error('thrown');
    case 'promise': return Promise.resolve('promised');
    case 'never': return undefined;
  }
};`;

test('every result goes out with a pipelined GET /next; the 202 and the event arrive together', T, async () => {
  const modes = ['callback', 'wait', 'nowait', 'throw', 'promise', 'never', 'callback'];
  const events = makeEvents(modes.length).map((e, i) => Object.assign(e, { body: JSON.stringify({ mode: modes[i] }) }));
  const result = await runFunction({
    files: { 'index.js': MODES_HANDLER },
    handler: 'index.handler',
    events,
    startApi: rawRuntimeApi(),
    until: (state) => state.posts.length >= events.length && state.requests.length >= 2 * events.length + 1,
  });
  assert.equal(result.timedOut, false, `timed out; stdout=${result.stdout} stderr=${result.stderr}`);
  assert.deepEqual(
    result.posts.map((p) => [p.kind, p.id, p.kind === 'response' ? p.body : JSON.parse(p.body).errorMessage]),
    events.map((e, i) => {
      const want = { callback: '"cb"', wait: '"waited"', nowait: '"nowait"', throw: 'thrown', promise: '"promised"', never: 'null' };
      return [modes[i] === 'throw' ? 'error' : 'response', e.id, want[modes[i]]];
    }),
  );
  const expected = ['next c1'];
  for (let i = 0; i < events.length; i++) expected.push('post c1', 'next c1 pipelined');
  assert.deepEqual(shape(result), expected);
  assert.equal(result.exitCode, null, 'still running, parked in /next');
  assert.ok(result.logLines.some((line) => line.endsWith('\ttimer done')));
});

for (const end of ['drop', 'close']) {
  const how = end === 'drop' ? 'the connection drops' : 'the 202 says Connection: close';
  test(`${how} before the pipelined GET is answered: a new connection asks again`, T, async () => {
    const events = makeEvents(3);
    const result = await runFunction({
      files: { 'index.js': 'let n = 0; exports.handler = async () => ++n;' },
      handler: 'index.handler',
      events,
      startApi: rawRuntimeApi({ 1: end }),
      until: (state) => state.posts.length >= 3 && state.requests.length >= 8,
    });
    assert.equal(result.timedOut, false, `timed out; stdout=${result.stdout} stderr=${result.stderr}`);
    assert.deepEqual(
      result.posts.map((p) => [p.id, p.body, p.conn]),
      [
        [events[0].id, '1', 1],
        [events[1].id, '2', 2],
        [events[2].id, '3', 2],
      ],
    );
    // The lost GET may or may not have reached the fake before it ended the connection.
    const shown = shape(result).filter((s) => s !== 'next c1 pipelined');
    assert.deepEqual(shown, ['next c1', 'post c1', 'next c2', 'post c2', 'next c2 pipelined', 'post c2', 'next c2 pipelined']);
    assert.equal(result.exitCode, null, 'still running, parked in /next');
  });
}

// One event for index.js, run until the process exits on its own.
function runUntilExit(source) {
  return runFunction({
    files: { 'index.js': source },
    handler: 'index.handler',
    events: makeEvents(1),
    startApi: rawRuntimeApi(),
    until: () => false,
  });
}

test('a fatal error after the result is posted without a GET behind it, and the process exits', T, async () => {
  const result = await runUntilExit(`exports.handler = (event, context, cb) => {
    setTimeout(() => { throw new Error('thrown from a timer'); }, 10);
  };`);
  assert.equal(result.timedOut, false, 'exited without waiting for another event');
  assert.equal(result.exitCode, 129);
  assert.deepEqual(
    result.posts.map((p) => [p.kind, JSON.parse(p.body).errorMessage]),
    [['error', 'thrown from a timer']],
  );
  assert.deepEqual(shape(result), ['next c1', 'post c1']);
});

// The invoke was answered and a GET /next is parked behind its result: the
// error has no invoke to be reported against, so the process exits at once
// (AWS's client posts it, gets an error back, and exits). Queued behind the
// parked GET, the post would wait for the next event and let its handler run.
test('a fatal error after the invoke is answered exits at once, with nothing posted', T, async () => {
  const result = await runUntilExit(`exports.handler = async () => {
    setTimeout(() => { throw new Error('thrown after the answer'); }, 10);
    return 'answered';
  };`);
  assert.equal(result.timedOut, false, 'exited without waiting for another event');
  assert.equal(result.exitCode, 129);
  assert.deepEqual(result.posts.map((p) => [p.kind, p.body]), [['response', '"answered"']]);
  assert.deepEqual(shape(result), ['next c1', 'post c1', 'next c1 pipelined']);
  assert.ok(result.logLines.some((line) => line.includes('Uncaught Exception') && line.includes('thrown after the answer')));
});

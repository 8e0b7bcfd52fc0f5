// SPDX-License-Identifier: MIT
// The helper itself, with node's own test runner and no dependency: a daemon started on a
// template of a temporary project, invoked, warmed, reset and made cold, then stopped; and a
// missing galley or template is a clear error. GALLEY_BIN names the galley under test.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startGalley, connect, GalleyError } = require('..');

function project() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'galley-helper-project-'));
  fs.mkdirSync(path.join(dir, 'fn'));
  fs.writeFileSync(path.join(dir, 'fn', 'index.js'),
    'let n = 0;\nexports.handler = async (event) => ({ hello: event.name, invokes: ++n });\n');
  fs.writeFileSync(path.join(dir, 'template.yaml'), [
    "AWSTemplateFormatVersion: '2010-09-09'",
    'Transform: AWS::Serverless-2016-10-31',
    'Resources:',
    '  Hello:',
    '    Type: AWS::Serverless::Function',
    '    Properties: {Runtime: nodejs20.x, Handler: index.handler, CodeUri: fn/, Timeout: 10}',
    ''].join('\n'));
  return dir;
}

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch (_) { return false; }
}

test('starts on the project template, invokes, warms, resets, stops', async () => {
  const dir = project();
  const g = await startGalley({ cwd: dir, args: ['--no-watch'] });
  try {
    assert.match(g.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await g.invoke('Hello', { name: 'node' });
    assert.deepStrictEqual([r.statusCode, r.functionError, r.payload], [200, null, { hello: 'node', invokes: 1 }]);
    assert.strictEqual((await g.invoke('Hello', {})).payload.invokes, 2);
    await g.reset();
    // Reset stops every environment; one may still be listed while it stops.
    assert.strictEqual((await g.environments()).filter((e) => e.status !== 'stopping').length, 0);
    assert.strictEqual((await g.invoke('Hello', {})).payload.invokes, 1, 'cold after reset');
    await g.cold('Hello');
    assert.strictEqual((await g.invoke('Hello', {})).payload.invokes, 1, 'cold after cold()');
    const warmed = await g.warm('Hello', 2);
    assert.strictEqual(warmed.Ready, 2);
    // connect() reaches the same daemon from its endpoint (what the Jest setup file does).
    const envs = await connect(g.endpoint, g.stateDir).environments();
    assert.ok(envs.filter((e) => e.function === 'Hello' && e.status !== 'stopping').length >= 2);
    await assert.rejects(g.warm('Nope'), /HTTP 404/);
  } finally {
    assert.strictEqual(await g.stop(), 0);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(!alive(g._proc.pid), 'the daemon is gone');
  assert.ok(!fs.existsSync(g.stateDir), 'its temporary state dir is removed');
});

test('a missing galley or template is a clear error', async () => {
  await assert.rejects(startGalley({ bin: '/nonexistent/galley', template: false }),
    (e) => e instanceof GalleyError && /galley did not start .*ENOENT/.test(e.message));
  await assert.rejects(startGalley({ template: '/nonexistent/template.yaml' }),
    (e) => e instanceof GalleyError && /no such file/.test(e.message));
  assert.throws(() => connect(''), /no galley endpoint/);
});

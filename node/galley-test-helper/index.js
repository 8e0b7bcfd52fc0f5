// SPDX-License-Identifier: MIT
// galley-test-helper: start galley, the local Lambda daemon, for a test run and drive it, with
// nothing but node (18+). The same abilities as the pytest plugin (python/pytest-galley):
// a daemon on a free loopback port with a temporary state dir serving the project's
// template.yaml, a Lambda client pointed at it (the AWS SDK for JavaScript v3 when the project
// has it), a reset between tests, and cold/warm controls. Jest and Vitest wiring is in the
// *-setup files beside this one.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// The control token another part of galley may require on /_galley (read when present).
const CONTROL_TOKEN_FILE = path.join('run', 'control-token');

class GalleyError extends Error {}

function findGalley(given) {
  const bin = given || process.env.GALLEY_BIN;
  if (bin) return bin;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const cand = path.join(dir || '.', 'galley');
    try {
      fs.accessSync(cand, fs.constants.X_OK);
      return cand;
    } catch (_) { /* next */ }
  }
  throw new GalleyError('galley not found: install it, put it on PATH, or set GALLEY_BIN');
}

function defaultTemplate(cwd) {
  const t = path.join(cwd, 'template.yaml');
  return fs.existsSync(t) ? t : undefined;
}

/** A running daemon's controls (also for a daemon started elsewhere: connect(endpoint)). */
class Galley {
  constructor(endpoint, stateDir, proc, tmp) {
    this.endpoint = endpoint;
    this.stateDir = stateDir;
    this._proc = proc;
    this._tmp = tmp;
  }

  async request(method, urlPath, body) {
    const headers = { 'content-type': 'application/json' };
    const token = this.stateDir && path.join(this.stateDir, CONTROL_TOKEN_FILE);
    if (token && fs.existsSync(token))
      headers['x-galley-control-token'] = fs.readFileSync(token, 'utf8').trim();
    const resp = await fetch(this.endpoint + urlPath, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await resp.text();
    if (!resp.ok) throw new GalleyError(`${method} ${urlPath}: HTTP ${resp.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  }

  _fnPath(fn, control, qualifier) {
    const q = qualifier ? `?Qualifier=${encodeURIComponent(qualifier)}` : '';
    return `/_galley/functions/${encodeURIComponent(fn)}/${control}${q}`;
  }

  /** Every environment stopped, faults and idle timeout overrides cleared. */
  reset() { return this.request('POST', '/_galley/reset'); }
  /** The function's next invoke is a cold start. */
  cold(fn, { qualifier } = {}) { return this.request('POST', this._fnPath(fn, 'cold', qualifier)); }
  /** count environments started and initialized; resolves once they are. */
  warm(fn, count = 1, { qualifier } = {}) {
    return this.request('POST', this._fnPath(fn, 'warm', qualifier), { Count: count });
  }
  /** The function's next count invokes fail with kind (throttle, service, timeout, init, crash). */
  fault(fn, kind, count = 1) {
    return this.request('PUT', this._fnPath(fn, 'faults'), { Kind: kind, Count: count });
  }
  async environments() { return (await this.request('GET', '/_galley/environments')).Environments; }

  /** Invoke through the Lambda API with fetch: { statusCode, functionError, payload }. */
  async invoke(fn, payload = {}) {
    const resp = await fetch(`${this.endpoint}/2015-03-31/functions/${encodeURIComponent(fn)}/invocations`,
      { method: 'POST', body: JSON.stringify(payload) });
    const text = await resp.text();
    let parsed = text;
    try { parsed = JSON.parse(text); } catch (_) { /* not JSON */ }
    return { statusCode: resp.status, functionError: resp.headers.get('x-amz-function-error'), payload: parsed };
  }

  /** An AWS SDK v3 LambdaClient at the daemon (the project must depend on @aws-sdk/client-lambda). */
  lambdaClient(options = {}) {
    let sdk;
    try {
      sdk = require(require.resolve('@aws-sdk/client-lambda', { paths: [process.cwd(), __dirname] }));
    } catch (_) {
      throw new GalleyError('lambdaClient() needs @aws-sdk/client-lambda in the project (npm i -D @aws-sdk/client-lambda); invoke() needs nothing');
    }
    return new sdk.LambdaClient({
      endpoint: this.endpoint, region: 'us-east-1', maxAttempts: 1,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, ...options,
    });
  }

  /** SIGTERM, then SIGKILL after timeoutMs; resolves with the exit code. */
  stop(timeoutMs = 30000) {
    const proc = this._proc;
    const done = () => { if (this._tmp) fs.rmSync(this._tmp, { recursive: true, force: true }); };
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
      done();
      return Promise.resolve(proc ? proc.exitCode : null);
    }
    return new Promise((resolve) => {
      const kill = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      proc.once('exit', (code) => { clearTimeout(kill); done(); resolve(code); });
      proc.kill('SIGTERM');
    });
  }
}

/**
 * Start `galley serve` on 127.0.0.1:0 with a temporary state dir; resolves with a Galley once
 * it printed "galley listening on URL". options: bin, template (default ./template.yaml when
 * present; false for none), args (more serve arguments), cwd, startTimeoutMs (default 60000).
 */
function startGalley(options = {}) {
  const cwd = options.cwd || process.cwd();
  const bin = findGalley(options.bin);
  const template = options.template === false ? undefined
    : options.template ? path.resolve(cwd, options.template) : defaultTemplate(cwd);
  if (template && !fs.existsSync(template))
    return Promise.reject(new GalleyError(`template ${template}: no such file`));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'galley-test-'));
  const stateDir = path.join(tmp, 'state');
  const args = ['serve', '--listen', '127.0.0.1:0', '--state-dir', stateDir];
  if (template) args.push('--template', template);
  args.push(...(options.args || []));
  const log = fs.openSync(path.join(tmp, 'galley.log'), 'a');
  const proc = spawn(bin, args, { cwd: template ? path.dirname(template) : cwd,
                                  stdio: ['ignore', 'pipe', log] });
  fs.closeSync(log);
  return new Promise((resolve, reject) => {
    let out = '';
    let settled = false;
    const fail = (why) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      let tail = '';
      try { tail = fs.readFileSync(path.join(tmp, 'galley.log'), 'utf8').slice(-4000); } catch (_) { /* gone */ }
      new Galley(null, stateDir, proc, tmp).stop().then(() =>
        reject(new GalleyError(`galley did not start (${bin} ${args.join(' ')}): ${why}\n${tail}`)));
    };
    const timer = setTimeout(() => fail('timed out'), options.startTimeoutMs || 60000);
    proc.on('error', (e) => fail(e.message));
    proc.on('exit', (code) => { if (!out.includes('\n')) fail(`exited with ${code}`); });
    proc.stdout.on('data', (chunk) => {
      if (out.includes('\n')) return; // already started; later output is ignored
      out += chunk;
      const m = /galley listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        settled = true;
        resolve(new Galley(m[1], stateDir, proc, tmp));
      } else if (out.includes('\n')) {
        fail(`unexpected output ${JSON.stringify(out)}`);
      }
    });
  });
}

/** Controls of a daemon already running: endpoint defaults to $GALLEY_ENDPOINT. */
function connect(endpoint = process.env.GALLEY_ENDPOINT, stateDir = process.env.GALLEY_STATE_DIR) {
  if (!endpoint) throw new GalleyError('no galley endpoint: start one (globalSetup) or set GALLEY_ENDPOINT');
  return new Galley(endpoint, stateDir, null, null);
}

/** Export the daemon to the tests' environment (GALLEY_ENDPOINT, AWS_ENDPOINT_URL_LAMBDA). */
function exportEnv(g) {
  process.env.GALLEY_ENDPOINT = g.endpoint;
  process.env.GALLEY_STATE_DIR = g.stateDir;
  process.env.AWS_ENDPOINT_URL_LAMBDA = g.endpoint;
}

module.exports = { startGalley, connect, exportEnv, Galley, GalleyError };

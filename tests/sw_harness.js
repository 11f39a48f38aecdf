// Runs a generated service worker in Node with stand-ins for the browser's
// caches, fetch and events, and reports what it did as JSON.
// Usage: node sw_harness.js <sw.js> <scenario.json>
'use strict';
const fs = require('fs');
const vm = require('vm');

const [swPath, scenarioPath] = process.argv.slice(2);
const scenario = JSON.parse(fs.readFileSync(scenarioPath, 'utf8'));
const ORIGIN = 'http://app.test';

class FakeResponse {
  constructor(body, status = 200, type = 'basic') {
    this.body = body; this.status = status; this.type = type; this.ok = status >= 200 && status < 300;
  }
  static error() { return new FakeResponse(null, 0, 'error'); }
}

const store = new Map((scenario.cached || []).map((url) => [url, new FakeResponse('cached:' + url)]));
const fetched = [];
const cacheApi = {
  async keys() { return [...store.keys()].map((url) => ({url})); },
  async match(key) { return store.get(typeof key === 'string' ? key : key.url); },
  async put(key, response) { store.set(key, response); },
  async delete(request) { return store.delete(request.url); },
};
const listeners = {};
const self = {
  location: new URL(ORIGIN + '/sw.js'),
  registration: {scope: ORIGIN + '/'},
  clients: {claim: async () => { self.claimed = true; }},
  skipWaiting: async () => { self.skipped = true; },
  addEventListener: (type, fn) => { listeners[type] = fn; },
};
const context = {
  self,
  URL,
  Map,
  Set,
  Promise,
  Error,
  Math,
  console,
  encodeURIComponent,
  Response: FakeResponse,
  Request: class { constructor(url, init) { this.url = new URL(url, ORIGIN).href; Object.assign(this, init); } },
  caches: {open: async () => cacheApi},
  fetch: async (request) => {
    const url = typeof request === 'string' ? request : request.url;
    fetched.push({url, cache: request.cache, redirect: request.redirect});
    if (scenario.offline) { throw new TypeError('Failed to fetch'); }
    const status = (scenario.statuses || {})[new URL(url).pathname] || 200;
    return new FakeResponse('network:' + url, status);
  },
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(swPath, 'utf8'), context, {filename: swPath});

async function run() {
  const out = {};
  if (scenario.install) {
    let promise;
    listeners.install({waitUntil: (p) => { promise = p; }});
    try { await promise; out.install = 'ok'; } catch (error) { out.install = 'failed: ' + error.message; }
    out.skipped = Boolean(self.skipped);
  }
  if (scenario.activate) {
    let promise;
    listeners.activate({waitUntil: (p) => { promise = p; }});
    await promise;
    out.claimed = Boolean(self.claimed);
  }
  out.requests = [];
  for (const request of scenario.requests || []) {
    let responded = null;
    const event = {
      request: {url: new URL(request.url, ORIGIN).href, method: request.method || 'GET', mode: 'navigate'},
      respondWith: (p) => { responded = p; },
    };
    listeners.fetch(event);
    if (responded === null) { out.requests.push('untouched'); continue; }
    try {
      const response = await responded;
      out.requests.push(response.type === 'error' ? 'error' : response.body);
    } catch (error) {
      out.requests.push('throws');
    }
  }
  out.fetched = fetched;
  out.cache = [...store.keys()].sort();
  process.stdout.write(JSON.stringify(out));
}
run().catch((error) => { console.error(error); process.exit(1); });

// Runs a generated service worker in Node with stand-ins for the browser's
// caches, fetch, clients and events, and reports what it did as JSON.
// Request, Response, Headers, URL and crypto are Node's own (the same APIs
// as the browser's). Usage: node sw_harness.js <sw.js> <scenario.json>
'use strict';
const fs = require('fs');
const vm = require('vm');

const [swPath, scenarioPath] = process.argv.slice(2);
const scenario = JSON.parse(fs.readFileSync(scenarioPath, 'utf8'));
const ORIGIN = 'http://app.test';
const urlOf = (key) => (typeof key === 'string' ? new URL(key, ORIGIN).href : key.url);

// A cache keeps bodies as bytes, so every match gives a fresh Response.
class FakeCache {
  constructor() { this.entries = new Map(); }
  async keys() { return [...this.entries.keys()].map((url) => new Request(url)); }
  async match(key) {
    const stored = this.entries.get(urlOf(key));
    if (!stored) { return undefined; }
    return new Response(stored.body, {status: stored.status, headers: stored.headers});
  }
  async put(key, response) {
    // scenario.failPutsAfter: a storage quota that is full after that many puts.
    puts += 1;
    if (scenario.failPutsAfter !== undefined && puts > scenario.failPutsAfter) {
      const error = new Error('the quota is exceeded');
      error.name = 'QuotaExceededError';
      throw error;
    }
    const body = new Uint8Array(await response.arrayBuffer());
    this.entries.set(urlOf(key), {status: response.status, headers: [...response.headers], body});
  }
  async delete(key) { return this.entries.delete(urlOf(key)); }
}

let puts = 0;
const storage = new Map();
const caches = {
  async open(name) {
    if (!storage.has(name)) { storage.set(name, new FakeCache()); }
    return storage.get(name);
  },
  async has(name) { return storage.has(name); },
  async delete(name) { return storage.delete(name); },
  async keys() { return [...storage.keys()]; },
};
const CACHE_NAME = 'quart-appcache:' + ORIGIN + '/';
for (const [name, urls] of Object.entries(scenario.caches || {'': scenario.cached || []})) {
  const cache = new FakeCache();
  for (const url of urls) {
    cache.entries.set(url, {status: 200, headers: [['content-type', 'text/plain']],
                            body: new TextEncoder().encode('cached:' + url)});
  }
  storage.set(name === '' ? CACHE_NAME : name, cache);
}

// scenario.pins and scenario.versions: what earlier versions recorded (pages
// they loaded, their entries), as the pinned-versions cache holds it.
if (scenario.pins || scenario.versions) {
  const cache = new FakeCache();
  const put = (url, value) => cache.entries.set(url, {
    status: 200, headers: [['content-type', 'application/json']],
    body: new TextEncoder().encode(JSON.stringify(value)),
  });
  put(ORIGIN + '/__appcache/pins', scenario.pins || {});
  for (const [version, record] of Object.entries(scenario.versions || {})) {
    put(ORIGIN + '/__appcache/version/' + encodeURIComponent(version), record);
  }
  storage.set(CACHE_NAME + ':pins', cache);
}

const fetched = [];
const told = [];  // messages the worker posted to pages
const navigated = [];  // pages the worker reloaded
async function fakeFetch(request) {
  const url = typeof request === 'string' ? new URL(request, ORIGIN).href : request.url;
  fetched.push({url, cache: request.cache, redirect: request.redirect, method: request.method,
                credentials: request.credentials});
  if (scenario.offline) { throw new TypeError('Failed to fetch'); }
  const path = new URL(url).pathname;
  const status = (scenario.statuses || {})[path] || 200;
  const bodies = scenario.bodies || {};
  // A list of bodies is handed out in turn (the first download, then a retry).
  let body = bodies[path] === undefined ? 'network:' + url : bodies[path];
  if (Array.isArray(body)) { body = body.length > 1 ? body.shift() : body[0]; }
  return new Response(status === 204 ? null : body, {status});
}

// In a worker, relative URLs resolve against the worker's own location.
class WorkerRequest extends Request {
  constructor(input, init) {
    super(typeof input === 'string' ? new URL(input, ORIGIN).href : input, init);
  }
}

const listeners = {};
const self = {
  location: new URL(ORIGIN + '/sw.js'),
  registration: {
    scope: ORIGIN + '/', installing: null, waiting: null,
    unregister: async () => { self.unregistered = true; return true; },
  },
  clients: {
    claim: async () => { self.claimed = true; },
    matchAll: async () => (scenario.clients || ['page-1']).map((id) => ({
      id,
      url: ORIGIN + '/',
      postMessage: (message) => told.push(message),
      navigate: async (url) => { navigated.push(url); },
    })),
  },
  skipWaiting: async () => { self.skipped = true; },
  addEventListener: (type, fn) => { listeners[type] = fn; },
};
const context = {
  self, URL, Map, Set, Promise, Error, TypeError, Math, Number, String, JSON, Array, Object,
  console, encodeURIComponent, decodeURIComponent, TextEncoder, TextDecoder, Uint8Array, URLSearchParams,
  Request: WorkerRequest, Response, Headers, crypto, caches, fetch: fakeFetch, setTimeout, clearTimeout,
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(swPath, 'utf8'), context, {filename: swPath});

async function lifecycle(type) {
  let promise;
  listeners[type]({waitUntil: (p) => { promise = p; }});
  await promise;
}

async function describe(response) {
  if (response.type === 'error') { return 'error'; }
  const body = await response.text();
  if (response.status === 200) { return body; }
  const range = response.headers.get('content-range');
  return response.status + (range ? ' ' + range : '') + (body ? ' ' + body : '');
}

async function run() {
  const out = {};
  if (scenario.install) {
    try { await lifecycle('install'); out.install = 'ok'; } catch (error) {
      out.install = 'failed: ' + error.message;
    }
  }
  if (scenario.activate) {
    await lifecycle('activate');
    out.claimed = Boolean(self.claimed);
  }
  for (const message of scenario.messages || []) {
    let waited = Promise.resolve();
    const reply = {postMessage: (data) => { out.replies = (out.replies || []).concat([data]); }};
    listeners.message({
      data: message, ports: [reply], source: {id: 'page-1'}, waitUntil: (p) => { waited = p; },
    });
    await waited;
  }
  out.requests = [];
  for (const spec of scenario.requests || []) {
    const request = new Request(new URL(spec.url, ORIGIN).href, {
      method: spec.method || 'GET',
      headers: spec.headers || {},
    });
    Object.defineProperty(request, 'mode', {value: spec.mode || 'navigate'});
    let responded = null;
    const extended = [];
    listeners.fetch({
      request,
      clientId: spec.clientId || '',
      resultingClientId: spec.resultingClientId || 'page-1',
      respondWith: (p) => { responded = p; },
      waitUntil: (p) => { extended.push(p); },
    });
    if (responded === null) {
      out.requests.push('untouched');
    } else {
      try {
        out.requests.push(await describe(await responded));
      } catch (error) {
        out.requests.push('throws');
      }
    }
    await Promise.allSettled(extended);
  }
  out.skipped = Boolean(self.skipped);
  out.fetched = fetched;
  out.told = told;
  out.navigated = navigated;
  out.unregistered = Boolean(self.unregistered);
  out.caches = {};
  for (const [name, cache] of storage) {
    // (The pinned versions' records are reported on their own.)
    if (name === CACHE_NAME + ':pins') {
      out.pins = {};
      for (const [url, stored] of cache.entries) {
        out.pins[url] = JSON.parse(new TextDecoder().decode(stored.body));
      }
      continue;
    }
    out.caches[name === CACHE_NAME ? '' : name] = [...cache.entries.keys()].sort();
  }
  out.cache = out.caches[''] || [];
  process.stdout.write(JSON.stringify(out));
}
run().catch((error) => { console.error(error); process.exit(1); });

/* quart_appcache page client: registers the service worker and tells the page
 * about its updates. Loaded as <script src="..." data-sw="..." data-scope="..."
 * defer> (appcache_sw_script()), so it runs under script-src 'self'.
 *
 *   window.addEventListener('appcache:offline-ready', (e) => e.detail.version)
 *   window.addEventListener('appcache:update-ready', (e) => e.detail.version)
 *   window.addEventListener('appcache:update-failed', (e) => e.detail)  // {version, url, reason}
 *   window.addEventListener('appcache:runtime-updated', (e) => e.detail)  // {url, rule}
 *   await window.appcache.version()      // the version serving this page, or null
 *   await window.appcache.update()       // true once a new version is ready, false otherwise
 *   window.appcache.applyUpdate()        // this page reloads onto the new version (pinned);
 *                                        // or the waiting version takes over, pages reload once
 *   window.appcache.state                // {status, detail}: the last event, for late listeners
 *
 * Offline writes (APPCACHE_QUEUE):
 *   window.addEventListener('appcache:queued', (e) => e.detail)         // {id, method, url}
 *   window.addEventListener('appcache:replayed', (e) => e.detail)       // {id, status, response}
 *   window.addEventListener('appcache:replay-failed', (e) => e.detail)  // {id, status, reason}
 *   await window.appcache.pending()      // the writes that wait: [{id, method, url, ...}]
 *   await window.appcache.replay()       // send them now: {replayed, failed, waiting}
 */
(function () {
  'use strict';
  var PREFIX = 'quart-appcache:';
  var REPORT_GRACE_MS = 2000;
  // A worker that does not know a question (a custom one) is not waited for.
  var ANSWER_MS = 3000;
  var script = document.currentScript;
  var config = script ? script.dataset : {};
  var api = {state: {status: 'installing', detail: null}};
  window.appcache = api;

  var waiters = [];
  function emit(status, detail) {
    api.state = {status: status, detail: detail};
    var name = status === 'failed' ? 'update-failed' : status;
    window.dispatchEvent(new CustomEvent('appcache:' + name, {detail: detail}));
    var pending = waiters;
    waiters = [];
    pending.forEach(function (resolve) { resolve(status); });
  }

  // Ask a worker a question over a MessageChannel; null if it cannot answer.
  function ask(worker, question, waitMs) {
    return new Promise(function (resolve) {
      if (!worker) { resolve(null); return; }
      var channel = new MessageChannel();
      var timer = setTimeout(function () { resolve(null); }, waitMs || ANSWER_MS);
      channel.port1.onmessage = function (event) { clearTimeout(timer); resolve(event.data); };
      worker.postMessage(PREFIX + question, [channel.port2]);
    });
  }

  // {page, newest, update}: the version serving this page, the worker's own,
  // and how updates take over ("pinned", "waiting", "immediate").
  function versions(worker) {
    return ask(worker, 'versions').then(function (state) {
      if (state && typeof state === 'object') { return state; }
      // (A worker of an earlier release, or the app's own: only its version.)
      return ask(worker, 'version').then(function (version) {
        return version === null ? null : {page: version, newest: version, update: 'waiting'};
      });
    });
  }

  function unsupported() {
    api.state = {status: 'unsupported', detail: null};
    api.version = function () { return Promise.resolve(null); };
    api.update = function () { return Promise.resolve(false); };
    api.applyUpdate = function () { return Promise.resolve(false); };
    api.pending = function () { return Promise.resolve([]); };
    api.replay = function () { return Promise.resolve(null); };
  }

  if (!('serviceWorker' in navigator)) {
    unsupported();
    return;
  }
  var container = navigator.serviceWorker;
  var scope = new URL(config.scope || '/', location.href).href;

  if (config.unregister === 'true') {
    // The kill switch: the app is no longer offline-capable.
    unsupported();
    container.getRegistration(scope).then(function (registration) {
      if (registration && registration.scope === scope) { registration.unregister(); }
    });
    return;
  }

  api.version = function () {
    return versions(container.controller).then(function (state) { return state && state.page; });
  };

  // -- the ready-made prompt (APPCACHE_SW_PROMPT) ------------------------------
  // <appcache-prompt>: where the app puts one, else floating at the bottom. A
  // shadow root keeps the app's CSS out; a constructed stylesheet keeps it
  // within `default-src 'self'`; the texts come from data-prompt.
  var PROMPT_CSS = [
    ':host { all: initial; display: block; font: 15px/1.4 system-ui, sans-serif; }',
    ':host([floating]) { position: fixed; left: 0; right: 0; bottom: 16px; z-index: 2147483647;',
    '  display: flex; justify-content: center; pointer-events: none; }',
    '.box { display: none; align-items: center; gap: 12px; flex-wrap: wrap; padding: 10px 14px;',
    '  border-radius: 8px; max-width: 36em; pointer-events: auto;',
    '  background: var(--appcache-prompt-background, #1f2933);',
    '  color: var(--appcache-prompt-color, #ffffff); box-shadow: 0 2px 12px rgba(0, 0, 0, .3); }',
    ':host([open]) .box { display: flex; }',
    '.actions { display: flex; gap: 8px; }',
    '.actions[hidden] { display: none; }',
    'button { font: inherit; cursor: pointer; border-radius: 6px; padding: 4px 12px;',
    '  border: 1px solid currentColor; background: transparent; color: inherit; }',
    'button.reload { border-color: transparent;',
    '  background: var(--appcache-prompt-accent, var(--accent, #e4f0ff));',
    '  color: var(--appcache-prompt-accent-color, var(--accent-text, #0b1a2b)); }',
    'button:focus-visible { outline: 3px solid var(--appcache-prompt-focus, #ffbf47);',
    '  outline-offset: 2px; }',
    '@media (prefers-reduced-motion: no-preference) {',
    '  :host([open]) .box { animation: appcache-prompt-in .2s ease-out; }',
    '}',
    '@keyframes appcache-prompt-in { from { opacity: 0; transform: translateY(8px); } }',
  ].join('\n');
  var OFFLINE_READY_MS = 6000;
  var DISMISSED_KEY = PREFIX + 'prompt-dismissed';

  function remembered(key) {
    try { return localStorage.getItem(key); } catch (error) { return null; }
  }
  function remember(key, value) {
    try { localStorage.setItem(key, value); } catch (error) { /* private mode */ }
  }

  function definePrompt(texts) {
    if (!window.customElements || customElements.get('appcache-prompt')) { return; }
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(PROMPT_CSS);

    class AppcachePrompt extends HTMLElement {
      connectedCallback() {
        if (this.shadowRoot) { return; }
        var root = this.attachShadow({mode: 'open'});
        root.adoptedStyleSheets = [sheet];
        if (texts.accent) {
          this.style.setProperty('--accent', texts.accent);
          this.style.setProperty('--accent-text', texts.accent_text);
        }
        // The live region stays in place, so screen readers announce what
        // appears in it; only the box inside comes and goes.
        var region = document.createElement('div');
        region.setAttribute('role', 'status');
        region.setAttribute('aria-live', 'polite');
        var box = document.createElement('div');
        box.className = 'box';
        box.setAttribute('part', 'box');
        var text = document.createElement('span');
        text.className = 'text';
        var actions = document.createElement('span');
        actions.className = 'actions';
        var reload = document.createElement('button');
        reload.type = 'button';
        reload.className = 'reload';
        reload.textContent = texts.reload;
        var dismiss = document.createElement('button');
        dismiss.type = 'button';
        dismiss.className = 'dismiss';
        dismiss.textContent = texts.dismiss;
        actions.append(reload, dismiss);
        box.append(text, actions);
        region.append(box);
        root.append(region);

        var element = this;
        var showing = null;  // the version the update prompt is for
        var timer = null;
        function close() {
          element.removeAttribute('open');
          text.textContent = '';
          showing = null;
        }
        function open(message, withActions) {
          clearTimeout(timer);
          text.textContent = message;
          actions.hidden = !withActions;
          element.setAttribute('open', '');
        }
        function updateReady(detail) {
          var version = detail && detail.version;
          if (!version || remembered(DISMISSED_KEY) === version) { return; }
          showing = version;
          reload.disabled = false;
          open(texts.update, true);
        }
        reload.addEventListener('click', function () {
          reload.disabled = true;  // one reload, however often it is pressed
          api.applyUpdate();
        });
        dismiss.addEventListener('click', function () {
          if (showing) { remember(DISMISSED_KEY, showing); }
          close();
        });
        box.addEventListener('keydown', function (event) {
          if (event.key === 'Escape' && showing) { dismiss.click(); }
        });
        window.addEventListener('appcache:update-ready', function (event) {
          updateReady(event.detail);
        });
        window.addEventListener('appcache:offline-ready', function () {
          if (showing) { return; }
          open(texts.offline_ready, false);
          timer = setTimeout(function () { if (!showing) { close(); } }, OFFLINE_READY_MS);
        });
        // An update announced before the element was connected.
        if (api.state.status === 'update-ready') { updateReady(api.state.detail); }
      }
    }
    customElements.define('appcache-prompt', AppcachePrompt);
  }

  if (config.prompt) {
    definePrompt(JSON.parse(config.prompt));
    // (A deferred script runs once the document is parsed: the app's own
    // element, if it placed one, is there by now.)
    if (!document.querySelector('appcache-prompt')) {
      var floating = document.createElement('appcache-prompt');
      floating.setAttribute('floating', '');
      document.body.append(floating);
    }
  }


  var hadController = Boolean(container.controller);
  var told = new WeakSet();  // workers already announced (waiting or failed)
  var applying = false;
  var reloading = false;
  var announced = {};  // versions this page heard of

  function announce(version) {
    if (version && !announced[version]) {
      announced[version] = true;
      emit('update-ready', {version: version});
    }
  }

  function announceWaiting(registration) {
    var worker = registration.waiting;
    if (!worker || !container.controller || told.has(worker)) { return; }
    told.add(worker);
    versions(worker).then(function (state) {
      // A pinned version takes over at once: the page hears of it then.
      if (state && state.update !== 'pinned') { announce(state.newest); }
    });
  }

  function watch(registration, worker) {
    if (!worker) { return; }
    worker.addEventListener('statechange', function () {
      if (worker.state === 'installed') {
        announceWaiting(registration);
      } else if (worker.state === 'redundant' && registration.active !== worker) {
        // The worker tells what failed itself (below), but its message may
        // arrive after this state change: give it a moment, then report a
        // worker that could not tell (one whose script failed to run, say).
        setTimeout(function () {
          if (!told.has(worker)) {
            told.add(worker);
            emit('failed', {version: null, url: null, reason: 'the new version failed to install'});
          }
        }, REPORT_GRACE_MS);
      }
    });
  }

  container.addEventListener('message', function (event) {
    var data = event.data;
    if (!data || typeof data !== 'object') { return; }
    if (data.type === PREFIX + 'install-failed') {
      if (event.source && told.has(event.source)) { return; }
      if (event.source) { told.add(event.source); }
      emit('failed', {version: data.version, url: data.url, reason: data.reason});
    } else if (data.type === PREFIX + 'runtime-updated') {
      // A stale-while-revalidate rule with notify: a refreshed copy differs.
      window.dispatchEvent(new CustomEvent('appcache:runtime-updated', {
        detail: {url: data.url, rule: data.rule},
      }));
    } else if (data.type === PREFIX + 'applying') {
      applying = true;  // a page applied an update: follow the takeover once
    } else if (data.type === PREFIX + 'queue') {
      queueEvent(event.source, data);
    }
  });

  container.addEventListener('controllerchange', function () {
    if (!hadController) {
      hadController = true;
      api.version().then(function (version) { emit('offline-ready', {version: version}); });
      return;
    }
    versions(container.controller).then(function (state) {
      if (state && state.update === 'pinned') {
        // The new version took over; this page keeps its own until it reloads.
        if (state.page !== state.newest) { announce(state.newest); }
        return;
      }
      // Reload only for an update a page asked for, and once: never for an
      // automatic takeover or DevTools' "update on reload", so never a loop.
      if (applying && !reloading) {
        reloading = true;
        location.reload();
      }
    });
  });

  // A page that goes for good (not kept for the back button) tells the
  // worker, so a version no page runs any more is deleted at once.
  window.addEventListener('pagehide', function (event) {
    if (!event.persisted && container.controller) {
      container.controller.postMessage(PREFIX + 'leaving');
    }
  });

  var registered = container.register(config.sw, {scope: scope, updateViaCache: 'none'})
    .then(function (registration) {
      watch(registration, registration.installing);
      registration.addEventListener('updatefound', function () {
        watch(registration, registration.installing);
      });
      if (registration.waiting) {
        announceWaiting(registration);
      } else if (container.controller) {
        // Already offline-ready on an earlier visit: say so without an event.
        api.version().then(function (version) {
          if (api.state.status === 'installing') {
            api.state = {status: 'offline-ready', detail: {version: version}};
          }
        });
      }
      return registration;
    });

  api.update = function () {
    return registered.then(function (registration) {
      var outcome = new Promise(function (resolve) { waiters.push(resolve); });
      return registration.update().then(function () {
        var worker = registration.installing || registration.waiting;
        if (!worker) { return false; }
        if (worker.state === 'installed') {
          announceWaiting(registration);
          return true;
        }
        return outcome.then(function (status) { return status === 'update-ready'; });
      });
    }).catch(function () { return false; });
  };

  api.applyUpdate = function () {
    return registered.then(function (registration) {
      return versions(container.controller).then(function (state) {
        if (state && state.update === 'pinned') {
          // Only this page moves to the newest version; other tabs choose.
          if (state.page === state.newest || reloading) { return false; }
          reloading = true;
          location.reload();
          return true;
        }
        if (!registration.waiting) { return false; }
        applying = true;
        registration.waiting.postMessage(PREFIX + 'skip-waiting');
        return true;
      });
    });
  };

  // -- offline writes (APPCACHE_QUEUE) -------------------------------------------
  // The worker reports each replay to every page, and keeps the report until
  // one says it saw it (so a replay made before this page loaded reaches it).
  var REPLAY_MS = 60000;
  var reported = {};
  function queueEvent(worker, data) {
    if (data.report !== undefined && data.report !== null) {
      if (reported[data.report]) { return; }
      reported[data.report] = true;
      if (worker) { worker.postMessage({type: PREFIX + 'queue-seen', reports: [data.report]}); }
    }
    window.dispatchEvent(new CustomEvent('appcache:' + data.event, {detail: data.detail}));
  }
  function active() {
    return registered.then(function (registration) { return registration.active; })
      .catch(function () { return null; });
  }
  api.pending = function () {
    return active().then(function (worker) { return ask(worker, 'queue-pending'); })
      .then(function (writes) { return writes || []; });
  };
  api.replay = function () {
    return active().then(function (worker) { return ask(worker, 'queue-replay', REPLAY_MS); });
  };
  if (config.queue === 'true') {
    active().then(function (worker) {
      return ask(worker, 'queue-reports').then(function (reports) {
        (reports || []).forEach(function (data) { queueEvent(worker, data); });
        return api.replay();
      });
    });
    window.addEventListener('online', function () { api.replay(); });
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'visible') { api.replay(); }
    });
  }

  // Check for a new version when the page is shown again, and now and then.
  function check() {
    registered.then(function (registration) { return registration.update(); })
      .catch(function () {});
  }
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') { check(); }
  });
  var interval = Number(config.updateInterval || 0);
  if (interval > 0) {
    setInterval(check, interval * 1000);
  }
})();

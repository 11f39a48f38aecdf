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
  function ask(worker, question) {
    return new Promise(function (resolve) {
      if (!worker) { resolve(null); return; }
      var channel = new MessageChannel();
      var timer = setTimeout(function () { resolve(null); }, ANSWER_MS);
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

document.addEventListener('DOMContentLoaded', () => {
  const status = document.getElementById('script-status');
  if (status) {
    status.textContent = 'script version 1';
  }

  // The offline bundle's updates, from quart_appcache's page client.
  const bar = document.getElementById('update-bar');
  const offline = document.getElementById('offline-status');
  const show = (state) => {
    if (state.status === 'offline-ready') {
      offline.textContent = 'Ready to work offline.';
    } else if (state.status === 'update-ready') {
      bar.hidden = false;
    } else if (state.status === 'failed') {
      offline.textContent = 'An update failed (' + state.detail.url + ': ' +
        state.detail.reason + '); this version stays in charge.';
    }
  };
  for (const name of ['offline-ready', 'update-ready', 'update-failed']) {
    window.addEventListener('appcache:' + name, () => show(window.appcache.state));
  }
  if (window.appcache) {
    show(window.appcache.state);  // an event may have fired before this script ran
  }
  document.getElementById('apply-update').addEventListener('click', () => {
    window.appcache.applyUpdate();
  });
});

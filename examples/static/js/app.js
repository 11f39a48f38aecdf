document.addEventListener('DOMContentLoaded', () => {
  const status = document.getElementById('script-status');
  if (status) {
    status.textContent = 'script version 1';
  }

  // The prompt (<appcache-prompt>) shows "offline ready" and "a new version";
  // a failed update is shown here.
  const offline = document.getElementById('offline-status');
  const show = (state) => {
    if (state.status === 'failed') {
      offline.textContent = 'An update failed (' + state.detail.url + ': ' +
        state.detail.reason + '); this version stays in charge.';
    }
  };
  window.addEventListener('appcache:update-failed', () => show(window.appcache.state));
  if (window.appcache) {
    show(window.appcache.state);  // an event may have fired before this script ran
  }
});

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

// Notes: a note added offline is queued by the worker (202) and sent when the
// server is back; the page hears of it with appcache:replayed.
document.addEventListener('DOMContentLoaded', () => {
  const form = document.getElementById('note-form');
  const list = document.getElementById('notes');
  if (!form) {
    return;
  }
  const saved = (item, note) => { item.textContent = `${note.text} (saved as #${note.id})`; };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = form.elements.text.value;
    form.reset();
    const response = await fetch(form.dataset.action, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({text}),
    });
    const answer = await response.json();
    const item = list.appendChild(document.createElement('li'));
    if (response.status === 202) {
      item.dataset.queued = answer.id;
      item.textContent = `${text} (waiting to be sent)`;
    } else {
      saved(item, answer);
    }
  });
  window.addEventListener('appcache:replayed', (event) => {
    const item = list.querySelector(`[data-queued="${event.detail.id}"]`);
    if (item) {
      saved(item, event.detail.response);
    }
  });
});

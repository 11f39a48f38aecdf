document.addEventListener('DOMContentLoaded', () => {
  const status = document.getElementById('script-status');
  if (status) {
    status.textContent = 'script version 1';
  }
});

// Threads without headers (docs/publish.md): on a host that cannot send COOP/COEP (GitHub Pages), the published
// page's service worker (www/sw.js) adds them to everything it serves. The first visit was served by the host,
// not by the worker, so it is not cross-origin isolated and runs the single-thread build; once the worker
// controls the page, this reloads it once so that the threaded build runs. Never more than once: a tab that has
// reloaded for this and is still not isolated stays on the single build and says so, and the browser is
// remembered (per user agent) so that it is not reloaded for nothing again.
import { emit } from './bus.js';

const RELOADED = 'netlens-isolation-reloaded'; // sessionStorage: this tab has reloaded for isolation
// A plain visit (no link in the address) at load: the reload must be one too (see `decide`).
const plainVisit = location.hash.replace(/^#/, '') === '';
const REFUSED = 'netlens-isolation-refused'; // localStorage: the user agent that stayed unisolated after it

/** Whether the threaded build would run here if the page were isolated (www/threads.js decides the rest). */
function threadsWanted() {
  const params = new URLSearchParams(location.search);
  return (navigator.hardwareConcurrency || 1) > 1 && params.get('build') !== 'single' && params.get('threads') !== '1';
}

function say(state, text = '') {
  const status = document.getElementById('threads-status');
  status.dataset.state = state;
  status.textContent = text;
  emit('isolation', { state, text });
}

/** sessionStorage / localStorage, or null where the browser refuses them (then no automatic reload at all). */
function storage(kind) {
  try {
    return kind === 'session' ? window.sessionStorage : window.localStorage;
  } catch {
    return null;
  }
}

/**
 * Called once the service worker is registered. `ask(worker)` resolves to its reply to {type: 'version'}
 * ({version, files, isolation}) or null.
 */
export function setupIsolation(ask) {
  const session = storage('session');
  if (window.crossOriginIsolated) {
    session?.removeItem(RELOADED);
    say('isolated');
    return;
  }
  if (!threadsWanted()) {
    say('not-needed');
    return;
  }
  say('waiting');
  const sw = navigator.serviceWorker;
  let settled = false;
  const decide = async () => {
    const controller = sw.controller;
    if (settled || !controller || window.crossOriginIsolated) return;
    // A worker of an older build adds no headers: wait for this build's to take over (its 'controllerchange').
    if ((await ask(controller))?.isolation !== true || settled) return;
    settled = true; // a 'controllerchange' while asking (or a second one) decides nothing more
    const local = storage('local');
    if (!session || !local) {
      say('refused', 'One thread: this browser keeps no session storage here, so the page does not reload itself for threads.');
    } else if (session.getItem(RELOADED) || local.getItem(REFUSED) === navigator.userAgent) {
      local.setItem(REFUSED, navigator.userAgent);
      say('refused', 'One thread: this browser did not make the page cross-origin isolated (needed for threads).');
    } else {
      session.setItem(RELOADED, '1');
      say('reloading', 'Reloading once to use every core…');
      // The page writes its state into the hash as it goes; before the default image has loaded that is a link
      // without an image, which the reloaded page would follow (and show no image). A plain visit reloads plain.
      if (plainVisit && !new URLSearchParams(location.hash.slice(1)).has('img')) {
        history.replaceState(null, '', `${location.pathname}${location.search}`);
      }
      location.reload();
    }
  };
  sw.addEventListener('controllerchange', decide);
  decide();
}

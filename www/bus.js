// The page's events, for the modules that react to each other and for observers (www/testhook.js).
// emit('image', {...}) -> every on('image', fn) listener gets the detail object.
const target = new EventTarget();

export function emit(type, detail = {}) {
  target.dispatchEvent(new CustomEvent(type, { detail }));
}

export function on(type, fn) {
  const listener = (e) => fn(e.detail);
  target.addEventListener(type, listener);
  return () => target.removeEventListener(type, listener);
}

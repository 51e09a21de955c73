// The page's events, for the modules that react to each other and for observers (www/testhook.js).
// emit('image', {...}) -> every on('image', fn) listener gets the detail object.
// Every event is declared, with its detail's fields, in www/protocol.js; an undeclared name throws.
import { checkEvent } from './protocol.js';

const target = new EventTarget();

export function emit(type, detail = {}) {
  checkEvent(type);
  target.dispatchEvent(new CustomEvent(type, { detail }));
}

export function on(type, fn) {
  checkEvent(type);
  const listener = (e) => fn(e.detail);
  target.addEventListener(type, listener);
  return () => target.removeEventListener(type, listener);
}

// The page state (image, shown panel, every method's settings) and the share link that carries it.
import { emit } from './bus.js';
import { engine } from './engine.js';
import { buildShareHash, defaultState, parseShareHash } from './share.js';
import { page as state, replacePage, subscribe, update } from './store.js';
import { $, showMessage } from './ui.js';

// The store's page slice (www/store.js): filled by initState() once the schema is known, replaced by a link; the
// object itself never changes (observers keep it).
export { state };

const share = {
  problem: null, // why the current image cannot go in a link
  note: null, // said once when a link carries a user's image
  url: null, // the link last written to the address bar
};

// A user's model dropped or picked (not one ?model=URL loads): links name it but cannot carry it (www/models.js).
const droppedModel = () => (engine.model?.user && !engine.model.url ? engine.model.name : null);
// Its preprocessing choice (the form of www/models.js), for any user's model: a link reproduces it.
const modelChoice = () => (engine.model?.user ? engine.model.choice ?? null : null);

// The link is a view of the page state and of the model in use (a user's model is named in it): it follows each
// change of either — once the page has read the link it was opened with (applyLink), never before: the address
// bar holds that link until then.
let linkRead = false;
subscribe('page', () => updateShareLink());
subscribe('engine', (keys) => {
  if (keys.includes('model')) updateShareLink();
});

export function initState(schema) {
  replacePage(defaultState(schema));
  emit('state', { state });
}

/** Reads the address bar's hash; shows its problems. Returns whether there was a link to reproduce. */
export function applyLink() {
  const { state: linked, problems, present, modelName, modelChoice: linkedChoice } = parseShareHash(location.hash, {
    schema: engine.schema, numClasses: engine.labels.length, sampleIds: engine.samples.map((s) => s.id),
  });
  for (const p of problems) showMessage('warn', p);
  if (problems.length) showMessage('info', 'The link had problems; the values above were replaced with defaults.');
  replacePage(linked);
  linkRead = true;
  emit('state', { state });
  emit('link-model', { name: modelName ?? null, choice: linkedChoice ?? null });
  return present;
}

/** The input changed: what a link says about it ({kind:'sample',id} | {kind:'jpeg',bytes} | null). */
export function setLinkImage({ link, problem = null, note = null }) {
  share.problem = problem;
  share.note = note;
  emit('share-problem', { problem });
  update('page', { image: link }); // the link follows
}

export function updateShareLink() {
  if (!linkRead || !engine.ready || !engine.schema) return;
  let hash;
  try {
    hash = buildShareHash(state, engine.schema, { modelName: droppedModel(), modelChoice: modelChoice() });
  } catch (e) {
    share.problem = e.message;
    emit('share-problem', { problem: e.message });
    return;
  }
  history.replaceState(null, '', hash);
  share.url = location.href;
  $('share-url').value = share.problem ? '' : location.href;
  emit('share-url', { url: location.href });
}

/** A hash typed or pasted into this tab's address bar (not one the page wrote itself). */
export function isForeignHash() {
  return engine.ready && location.href !== share.url;
}

export async function copyLink() {
  if (share.problem) {
    showMessage('warn', share.problem);
    return;
  }
  updateShareLink();
  const url = location.href;
  const mine = droppedModel();
  if (mine) showMessage('info', `The link names your model “${mine}” but does not contain it: whoever opens it must drop the same file into the page.`);
  try {
    await navigator.clipboard.writeText(url);
    showMessage('info', 'Link copied: whoever opens it sees this image, panel and settings, and the same run.');
    if (share.note) showMessage('info', share.note);
  } catch {
    $('share-url').focus();
    $('share-url').select();
    showMessage('info', 'Press Ctrl+C to copy the selected link.');
  }
}

// Lessons (docs/lessons.md, docs/lesson.schema.json): a title and ordered steps; a step is a page view exactly as a
// share link holds it (its hash, read and checked by www/share.js, never a second format), a short text in a tiny
// markup and an optional question. This module reads, checks and writes lessons and lesson links; no DOM here, so
// node's test runner can load it. Everything in a lesson is untrusted: each problem becomes one sentence.
import { parseShareHash, bytesToBase64url, base64urlToBytes } from './share.js';

export const LESSON_VERSION = 1;
export const MAX_LESSON_BYTES = 5 * 1024 * 1024;
export const MAX_STEPS = 999;
const MAX_TITLE = 200;
const MAX_TEXT = 4000;
const MAX_CHOICES = 8;
// The bus events this module's page side emits (www/lesson.js) and www/app.js / www/input.js listen to.
// A lesson link's hash: #lesson=<base64url of the deflate-raw compressed JSON>[&step=N].
export const LINK_KEY = 'lesson';

const quote = (value) => {
  const s = String(value);
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
};

// ---------- the text markup: paragraphs, *emphasis*, **strong**, lists, [links](https://…) ----------

const HTML_TAG = /<\/?[a-z!?][^>]*>?/i;
// [text](url); the url may hold balanced parentheses (Wikipedia's do).
const LINK = /\[([^\]\n]{1,200})\]\(((?:[^()\s]|\([^()\s]*\)){1,2000})\)/;

function inlines(text) {
  const out = [];
  let rest = text;
  while (rest) {
    const link = LINK.exec(rest);
    const strong = /\*\*([^*\n]+)\*\*/.exec(rest);
    const em = /(?<![*\w])[*_]([^*_\n]+)[*_](?![*\w])/.exec(rest);
    const first = [link, strong, em].filter(Boolean).sort((a, b) => a.index - b.index)[0];
    if (!first) {
      out.push({ t: 'text', v: rest });
      break;
    }
    if (first.index > 0) out.push({ t: 'text', v: rest.slice(0, first.index) });
    if (first === link) {
      let url = null;
      try {
        url = new URL(link[2]);
      } catch {
        url = null;
      }
      if (!url || url.protocol !== 'https:') return { error: link[2] };
      out.push({ t: 'link', href: url.href, v: link[1] });
    } else {
      out.push({ t: first === strong ? 'strong' : 'em', v: first[1] });
    }
    rest = rest.slice(first.index + first[0].length);
  }
  return out;
}

/**
 * The markup of a step's text as blocks: [{t: 'p', c: inlines} | {t: 'ul'|'ol', items: [inlines]}], inlines being
 * {t: 'text'|'em'|'strong', v} and {t: 'link', href, v}. Returns {blocks} or {error: sentence end}.
 */
export function parseMarkup(text) {
  const tag = HTML_TAG.exec(text);
  if (tag) {
    return { error: `its text contains HTML (${quote(tag[0])}), and lesson text may hold only paragraphs, *emphasis*, lists and https links` };
  }
  const blocks = [];
  for (const para of String(text).replace(/\r\n?/g, '\n').split(/\n\s*\n/)) {
    const lines = para.split('\n').filter((l) => l.trim() !== '');
    if (!lines.length) continue;
    const bullet = lines.every((l) => /^\s*[-*] /.test(l));
    const numbered = lines.every((l) => /^\s*\d{1,3}[.)] /.test(l));
    const parts = bullet || numbered ? lines.map((l) => l.replace(/^\s*([-*]|\d{1,3}[.)]) /, '')) : [lines.join(' ')];
    const parsed = [];
    for (const p of parts) {
      const r = inlines(p.trim());
      if (r.error !== undefined) return { error: `its text links to ${quote(r.error)}, and lessons may link to https addresses only` };
      parsed.push(r);
    }
    blocks.push(bullet || numbered ? { t: numbered ? 'ol' : 'ul', items: parsed } : { t: 'p', c: parsed[0] });
  }
  return { blocks };
}

// ---------- a lesson: reading and checking ----------

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const shortText = (v, max) => typeof v === 'string' && v.length <= max;

// A share-link problem as the end of "Step n was left out: …" (without the link's own "; the default is used.").
const linkProblem = (p) => p.replace(/;[^;]*\.$/, '').replace(/\.$/, '');

/** One step: {step} (normalized) or {error: the end of "Step n was left out: …"}. */
function checkStep(raw, ctx) {
  if (!isObject(raw)) return { error: 'it is not an object' };
  if (typeof raw.view !== 'string' || raw.view.length === 0) return { error: 'it has no "view" (a share link\'s hash)' };
  const view = raw.view.replace(/^#/, '');
  if (new URLSearchParams(view).has(LINK_KEY)) return { error: 'its view is a lesson link, not a page view' };
  const parsed = parseShareHash(`#${view}`, ctx);
  if (parsed.problems.length) return { error: `its view is invalid (${linkProblem(parsed.problems[0])})` };
  if (!parsed.present) return { error: 'its view is empty' };
  if (raw.title !== undefined && !shortText(raw.title, MAX_TITLE)) return { error: `its title is not text of at most ${MAX_TITLE} characters` };
  if (raw.text !== undefined && !shortText(raw.text, MAX_TEXT)) return { error: `its text is not text of at most ${MAX_TEXT} characters` };
  const text = raw.text ?? '';
  const markup = parseMarkup(text);
  if (markup.error) return { error: markup.error };
  const step = { view, text };
  if (raw.title) step.title = raw.title;
  if (raw.question !== undefined && raw.question !== null) {
    const q = raw.question;
    if (!isObject(q) || !shortText(q.prompt, MAX_TEXT) || !q.prompt.trim()) return { error: 'its question has no "prompt" text' };
    if (HTML_TAG.test(q.prompt)) return { error: `its question contains HTML (${quote(HTML_TAG.exec(q.prompt)[0])})` };
    const question = { prompt: q.prompt };
    if (q.choices !== undefined) {
      if (!Array.isArray(q.choices) || q.choices.length < 2 || q.choices.length > MAX_CHOICES
        || !q.choices.every((c) => shortText(c, MAX_TITLE) && c.trim() && !HTML_TAG.test(c))) {
        return { error: `its question's "choices" are not 2 to ${MAX_CHOICES} short plain texts` };
      }
      if (!Number.isInteger(q.answer) || q.answer < 0 || q.answer >= q.choices.length) {
        return { error: `its question's "answer" is not the index of one of its ${q.choices.length} choices (0 to ${q.choices.length - 1})` };
      }
      question.choices = [...q.choices];
      question.answer = q.answer;
    } else if (q.answer !== undefined) {
      return { error: 'its question has an "answer" but no "choices"' };
    }
    if (q.explanation !== undefined) {
      if (!shortText(q.explanation, MAX_TEXT)) return { error: `its question's explanation is not text of at most ${MAX_TEXT} characters` };
      const m = parseMarkup(q.explanation);
      if (m.error) return { error: m.error.replace(/^its text/, "its question's explanation") };
      question.explanation = q.explanation;
    }
    step.question = question;
  }
  return { step };
}

/**
 * Reads a lesson from its JSON text (or an already parsed value). ctx = {schema, numClasses, sampleIds} as
 * share.js' parseShareHash takes; name = how messages call the lesson ("“intro.json”").
 * Returns {lesson: {title, steps} | null, problems: [sentence]}: lesson is null when nothing of it can be used;
 * otherwise each left-out step has its sentence and the valid steps are kept.
 */
export function readLesson(input, ctx, { name = 'The lesson' } = {}) {
  let value = input;
  if (typeof input === 'string') {
    if (input.length > MAX_LESSON_BYTES) {
      return { lesson: null, problems: [`${name} is ${(input.length / 1048576).toFixed(1)} MB; a lesson may be at most ${MAX_LESSON_BYTES / 1048576} MB.`] };
    }
    try {
      value = JSON.parse(input);
    } catch (e) {
      return { lesson: null, problems: [`${name} is not a lesson: it is not JSON (${String(e.message).slice(0, 80)}).`] };
    }
  }
  if (!isObject(value) || !('netlens_lesson' in value)) {
    return { lesson: null, problems: [`${name} is not a netlens lesson: it has no "netlens_lesson" format version.`] };
  }
  if (value.netlens_lesson !== LESSON_VERSION) {
    return { lesson: null, problems: [`${name} is a lesson of format version ${quote(value.netlens_lesson)}; this page reads version ${LESSON_VERSION}.`] };
  }
  if (!shortText(value.title, MAX_TITLE) || !value.title.trim()) {
    return { lesson: null, problems: [`${name} has no title (a text of at most ${MAX_TITLE} characters).`] };
  }
  if (!Array.isArray(value.steps) || value.steps.length === 0) {
    return { lesson: null, problems: [`${name} has no steps.`] };
  }
  if (value.steps.length > MAX_STEPS) {
    return { lesson: null, problems: [`${name} has ${value.steps.length} steps; a lesson holds at most ${MAX_STEPS}.`] };
  }
  const problems = [];
  const steps = [];
  value.steps.forEach((raw, i) => {
    const r = checkStep(raw, ctx);
    if (r.error) problems.push(`Step ${i + 1} of ${name} was left out: ${r.error}.`);
    else steps.push(r.step);
  });
  if (!steps.length) {
    problems.push(`${name} has no step this page can show.`);
    return { lesson: null, problems };
  }
  return { lesson: { title: value.title, steps }, problems };
}

/** The lesson as its file holds it (the JSON a lesson.schema.json validator accepts). */
export function lessonJson(lesson) {
  const out = { netlens_lesson: LESSON_VERSION, title: lesson.title, steps: lesson.steps.map((s) => {
    const step = { view: s.view };
    if (s.title) step.title = s.title;
    step.text = s.text ?? '';
    if (s.question) step.question = { ...s.question };
    return step;
  }) };
  return out;
}

/** Steps whose view carries the user's own image (a JPEG in the link): they make a lesson link long. */
export function ownImageSteps(lesson) {
  return lesson.steps.map((s, i) => (new URLSearchParams(s.view).get('img')?.startsWith('jpeg:') ? i + 1 : 0)).filter(Boolean);
}

// ---------- lesson links: deflate-raw (the browser's CompressionStream) + base64url ----------

async function pipe(bytes, stream) {
  const out = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

/** The hash (with "#") of a lesson link: the lesson's JSON, deflated, in base64url; step (1-based) when not the first. */
export async function lessonHash(lesson, step = 1) {
  const json = new TextEncoder().encode(JSON.stringify(lessonJson(lesson)));
  const data = bytesToBase64url(await pipe(json, new CompressionStream('deflate-raw')));
  return `#${LINK_KEY}=${data}${step > 1 ? `&step=${step}` : ''}`;
}

/**
 * Reads a lesson link's hash: {text, step} (the lesson's JSON text, for readLesson) or {error: sentence}.
 * Inflates at most MAX_LESSON_BYTES, so a small link cannot expand into gigabytes.
 */
export async function readLessonHash(hash) {
  const params = new URLSearchParams(String(hash).replace(/^#/, ''));
  const data = params.get(LINK_KEY) ?? '';
  const step = /^\d{1,3}$/.test(params.get('step') ?? '') ? Number(params.get('step')) : 1;
  const bytes = base64urlToBytes(data);
  if (!bytes) return { error: 'The lesson link is damaged (its data is not base64url); copy the whole link again.' };
  if (bytes.length > MAX_LESSON_BYTES) return { error: `The lesson link is over ${MAX_LESSON_BYTES / 1048576} MB; a lesson may be at most that.` };
  try {
    const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw')).getReader();
    const chunks = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > MAX_LESSON_BYTES) {
        reader.cancel().catch(() => {});
        return { error: `The lesson in this link is over ${MAX_LESSON_BYTES / 1048576} MB unpacked; a lesson may be at most that.` };
      }
      chunks.push(value);
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(all), step };
  } catch {
    return { error: 'The lesson link is damaged (its data does not unpack); copy the whole link again.' };
  }
}

/**
 * A `?lesson=` address, resolved against the page: {url} or {error: sentence}. Same origin only, as ?model= is:
 * the page's Content-Security-Policy (connect-src 'self') lets it fetch from its own site only.
 */
export function lessonAddress(raw, pageHref) {
  let url;
  try {
    url = new URL(raw, pageHref);
  } catch {
    return { error: `The lesson address ${quote(raw)} is not a URL.` };
  }
  const page = new URL(pageHref);
  if (url.origin !== page.origin) {
    return { error: `The lesson address (${url.origin}) is on another site, and this page may fetch lessons only from its own: publish the .json beside the page, or download it and open it with Lessons → Open a lesson file….` };
  }
  return { url: url.href };
}

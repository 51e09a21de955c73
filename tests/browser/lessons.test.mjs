// Lessons (www/lesson.js, www/lesson-format.js, docs/lessons.md): the checks on their own (node), the schema
// (ajv), then the page: a lesson authored through the UI, exported and imported in a fresh browser, its lesson link
// reproducing every step's results, the presenter's keys, the built-in CS231n lesson on a phone, every bad input
// and axe-core. Screenshots: docs/lesson-presenter.png, docs/lesson-phone.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import {
  REPO, suite, inFreshBrowser, startBrowser, openPage, waitReady, waitImage, setFields, screenshotPath, loadSchema,
  useRegistryValidator,
} from './helpers.mjs';
import {
  readLesson, lessonJson, lessonHash, readLessonHash, lessonAddress, parseMarkup, MAX_STEPS, LESSON_VERSION,
} from '../../www/lesson-format.js';

const TIMEOUT = { timeout: 900_000 };
const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SCHEMA_FILE = path.join(REPO, 'docs/lesson.schema.json');
const LESSONS = path.join(REPO, 'www/lessons');
const BUILT_IN = JSON.parse(readFileSync(path.join(LESSONS, 'index.json'), 'utf8')).lessons;
const CS231N = 'cs231n-network-visualization.json';
const PHONE_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) '
  + 'Chrome/130.0.0.0 Mobile Safari/537.36';

// Lesson steps are checked by the registry's validator (the page's wasm), as in the page.
await useRegistryValidator();
const schema = loadSchema();
const ctx = { schema, numClasses: 1000, sampleIds: ['astronaut', 'chelsea', 'coffee', 'motorcycle_left', 'rocket'] };
const validate = new Ajv2020({ allErrors: true }).compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
const scratch = mkdtempSync(path.join(tmpdir(), 'netlens-lessons-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

const lessonOf = (steps, extra = {}) => ({ netlens_lesson: LESSON_VERSION, title: 'Bad input', steps, ...extra });
const okStep = (n) => ({ view: 'v=1&img=sample:chelsea&panel=saliency', text: `Step ${n}, a fine one.` });

// Each bad input: the lesson (or file text), what the page must say, and how many steps still load (0: none).
const BAD = [
  { name: 'not JSON', text: '{"netlens_lesson": 1, "title": ', says: /is not a lesson: it is not JSON/, steps: 0 },
  { name: 'another version', lesson: lessonOf([okStep(1)], { netlens_lesson: 2 }), says: /format version "2"; this page reads version 1/, steps: 0 },
  { name: '1,000 steps', lesson: lessonOf(Array.from({ length: MAX_STEPS + 1 }, (_, i) => okStep(i))), says: /has 1000 steps; a lesson holds at most 999/, steps: 0 },
  {
    name: 'a step with an invalid setting',
    lesson: lessonOf([okStep(1), { view: 'v=1&img=sample:chelsea&panel=fooling&fool.lr=-1', text: 'bad' }, okStep(3)]),
    says: /Step 2 of .* was left out: its view is invalid \(Link parameter "fool\.lr": Learning rate \(lr\) must be greater than 0, got -1/, steps: 2,
  },
  {
    name: 'a script in the text',
    lesson: lessonOf([{ view: 'v=1&img=sample:coffee&panel=saliency', text: 'Hi <script>alert(1)</script>' }, okStep(2)]),
    says: /Step 1 of .* was left out: its text contains HTML \("<script>"\)/, steps: 1,
  },
  {
    name: 'a javascript: link',
    lesson: lessonOf([okStep(1), { view: 'v=1&img=sample:coffee&panel=saliency', text: 'See [this](javascript:alert(1)).' }]),
    says: /Step 2 of .* was left out: its text links to "javascript:alert\(1\)", and lessons may link to https addresses only/, steps: 1,
  },
];

// ---------- the checks on their own ----------

test('each bad lesson gets one sentence; the valid steps of a partly bad one stay', () => {
  for (const bad of BAD) {
    const { lesson, problems } = readLesson(bad.text ?? JSON.stringify(bad.lesson), ctx, { name: '“bad.json”' });
    assert.equal(problems.length, 1, `${bad.name}: ${problems.join(' | ')}`);
    assert.match(problems[0], bad.says, bad.name);
    assert.equal(lesson?.steps.length ?? 0, bad.steps, bad.name);
  }
  const big = ' '.repeat(5 * 1024 * 1024 + 1);
  assert.match(readLesson(big, ctx).problems[0], /is 5\.0 MB; a lesson may be at most 5 MB/);
  assert.match(lessonAddress('https://example.com/l.json', 'http://127.0.0.1:8000/').error, /on another site/);
  assert.equal(lessonAddress('www/lessons/x.json', 'http://127.0.0.1:8000/a/').url, 'http://127.0.0.1:8000/a/www/lessons/x.json');
});

test('the markup: paragraphs, emphasis, lists, https links; no HTML, no other links', () => {
  const { blocks } = parseMarkup('One *two* **three** [four](https://example.org/x).\n\n- a\n- b\n\n1. c\n2. d');
  assert.deepEqual(blocks, [
    { t: 'p', c: [{ t: 'text', v: 'One ' }, { t: 'em', v: 'two' }, { t: 'text', v: ' ' }, { t: 'strong', v: 'three' },
      { t: 'text', v: ' ' }, { t: 'link', href: 'https://example.org/x', v: 'four' }, { t: 'text', v: '.' }] },
    { t: 'ul', items: [[{ t: 'text', v: 'a' }], [{ t: 'text', v: 'b' }]] },
    { t: 'ol', items: [[{ t: 'text', v: 'c' }], [{ t: 'text', v: 'd' }]] },
  ]);
  for (const bad of ['<img src=x onerror=alert(1)>', '</p>', '[x](http://example.org)', '[x](data:text/html,hi)', '[x](JAVASCRIPT:alert(1))']) {
    assert.ok(parseMarkup(bad).error, bad);
  }
  assert.deepEqual(parseMarkup('a < b and snake_case_name').blocks, [{ t: 'p', c: [{ t: 'text', v: 'a < b and snake_case_name' }] }]);
});

test('a lesson link round-trips (deflate-raw + base64url); a damaged one is one sentence', async () => {
  const lesson = readLesson(readFileSync(path.join(LESSONS, CS231N), 'utf8'), ctx).lesson;
  const hash = await lessonHash(lesson, 3);
  const back = await readLessonHash(hash);
  assert.equal(back.step, 3);
  assert.deepEqual(JSON.parse(back.text), lessonJson(lesson));
  console.log(`# CS231n lesson link: ${hash.length} characters of hash for ${JSON.stringify(lessonJson(lesson)).length} characters of JSON`);
  assert.match((await readLessonHash('#lesson=!!!')).error, /damaged/);
  assert.match((await readLessonHash('#lesson=AAAA')).error, /damaged/);
});

test('docs/lesson.schema.json accepts the built-in lessons and what the page writes, and refuses the bad ones', () => {
  assert.ok(BUILT_IN.length >= 2, 'two built-in lessons at least');
  for (const { file } of BUILT_IN) {
    const value = JSON.parse(readFileSync(path.join(LESSONS, file), 'utf8'));
    assert.ok(validate(value), `${file}: ${JSON.stringify(validate.errors)}`);
    const { lesson, problems } = readLesson(value, ctx, { name: file });
    assert.deepEqual(problems, [], file);
    assert.equal(lesson.steps.length, value.steps.length, file);
    assert.ok(validate(lessonJson(lesson)), `${file} as the page exports it`);
  }
  for (const bad of BAD.filter((b) => b.lesson)) assert.equal(validate(bad.lesson), bad.name === 'a step with an invalid setting', bad.name);
});

// ---------- the page ----------

const { server, browser } = suite();

/**
 * Waits until `method`'s run is done (on the sample `image` when given: a step's panel may first run on the image
 * before it, a run the new image cancels or replaces); its error, image, top-5 and every panel's hash.
 */
async function waitDone(page, method, image = null, timeout = 300_000) {
  await page.waitForFunction(([m, img]) => {
    const h = window.__netlens;
    return (h.runs[m]?.done === true || h.runs[m]?.error) && (img === null || h.imageSource?.id === img);
  }, [method, image], { timeout });
  return page.evaluate((m) => {
    const h = window.__netlens;
    const run = h.runs[m];
    return {
      error: run.error ?? null,
      image: h.imageSource?.id ?? null,
      top5: h.top5.map((t) => t.class),
      maps: Object.fromEntries(Object.entries(run.panels ?? {}).map(([id, p]) => [id, p.rawHash ?? p.hash])),
    };
  }, method);
}

const forget = (page, method) => page.evaluate((m) => { delete window.__netlens.runs[m]; }, method);
const stepIndex = (page, i) => page.waitForFunction((n) => window.__netlens.lesson?.index === n, i, { timeout: 30_000 });
const panelOf = (view) => new URLSearchParams(view).get('panel');
const imageOf = (view) => new URLSearchParams(view).get('img')?.replace(/^sample:/, '') ?? null;

async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')})`);
}

function assertClean(problems) {
  assert.deepEqual(problems.pageErrors, [], 'no uncaught exceptions');
  assert.deepEqual(problems.dialogs, [], 'no alert/confirm dialogs');
}

let authored = null; // {file, json, link, results: [{view, top5, maps}]}

test('a three-step lesson authored in the page, exported, imported in a fresh browser: identical steps', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, server.url);
  await waitReady(page);
  await waitImage(page, 'chelsea');
  const results = [];
  await page.click('#lessons-button');
  await page.click('#lesson-new');
  await page.fill('#lesson-edit-title', 'Three views of two images');

  // 1. Saliency of the cat.
  const sal = await waitDone(page, 'saliency');
  await page.click('#lesson-add');
  await page.fill('#lesson-step-1-text', 'The **saliency** of the cat: where is it bright?');
  results.push(sal);

  // 2. Grad-CAM of the coffee, with a multiple-choice question.
  await forget(page, 'gradcam');
  await page.click('[data-sample="coffee"]');
  await waitImage(page, 'coffee');
  await page.click('#tab-attribution');
  await page.click('#method-gradcam');
  results.push(await waitDone(page, 'gradcam'));
  await page.click('#lesson-add');
  await page.fill('#lesson-step-2-title', 'Grad-CAM');
  await page.fill('#lesson-step-2-text', 'Grad-CAM is coarse:\n\n- 13×13 cells\n- upsampled');
  await page.click('#lesson-steps li[data-step="2"] summary');
  await page.fill('#lesson-step-2-prompt', 'How many cells?');
  await page.fill('#lesson-step-2-choices', '13×13\n224×224');
  await page.fill('#lesson-step-2-answer', '1');

  // 3. Fooling the coffee (20 iterations), a link in the text.
  await forget(page, 'fooling');
  await page.click('#tab-fooling');
  await setFields(page, [['fool-iters', '20']]);
  await page.click('#fool-run');
  results.push(await waitDone(page, 'fooling'));
  await page.click('#lesson-add');
  await page.fill('#lesson-step-3-text', 'Fooled. See [the lab](https://cs231n.github.io/).');

  // Reorder: move step 3 up and back down, delete nothing; the order stays 1, 2, 3.
  await page.click('#lesson-step-3-up');
  assert.match(await page.textContent('#lesson-steps li[data-step="2"] .step-view'), /Fooling/);
  await page.click('#lesson-step-2-down');
  assert.match(await page.textContent('#lesson-steps li[data-step="3"] .step-view'), /Fooling/);
  for (const [i, r] of results.entries()) assert.equal(r.error, null, `step ${i + 1} ran`);

  // The draft survives a reload.
  await page.waitForTimeout(500);
  const drafts = await page.evaluate(() => JSON.parse(localStorage.getItem('netlens.lesson-drafts')));
  assert.equal(drafts[0].steps.length, 3);

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#lesson-export')]);
  const file = path.join(scratch, 'three-views.json');
  await download.saveAs(file);
  const json = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(json.netlens_lesson, 1);
  assert.equal(json.title, 'Three views of two images');
  assert.deepEqual(json.steps.map((s) => panelOf(s.view)), ['saliency', 'gradcam', 'fooling']);
  assert.deepEqual(json.steps[1].question, { prompt: 'How many cells?', choices: ['13×13', '224×224'], answer: 0 });
  assert.ok(validate(json), JSON.stringify(validate.errors));

  await page.click('#lesson-edit-share');
  await page.waitForFunction(() => document.getElementById('lesson-link-qr').dataset.link);
  const link = await page.inputValue('#lesson-link');
  const shown = await page.textContent('#lesson-link-length');
  assert.equal(shown, `${link.length} characters`);
  assert.equal(await page.getAttribute('#lesson-link-qr', 'data-link'), link, 'the QR holds the lesson link');
  assert.equal(await page.isHidden('#lesson-link-warning'), true, 'sample images only: no warning');
  console.log(`# three-step lesson link: ${link.length} characters; JSON file ${readFileSync(file).length} bytes`);
  await page.click('#lesson-share-close');
  assertClean(problems);

  await page.reload();
  await waitReady(page);
  await page.click('#lessons-button');
  await page.waitForSelector(`#lessons-drafts [data-draft-edit="${drafts[0].id}"]`);
  await page.keyboard.press('Escape');
  await page.close();

  await inFreshBrowser(async (context) => {
    const { page: other, problems: otherProblems } = await openPage(context, server.url);
    await waitReady(other);
    await other.click('#lessons-button');
    await other.setInputFiles('#lesson-file-input', file);
    await stepIndex(other, 0);
    const imported = await other.evaluate(() => window.__netlens.lesson.lesson);
    assert.deepEqual(imported, json, 'the imported lesson has the exported steps');
    assert.equal(await other.textContent('#lesson-count'), 'Step 1 of 3');
    assertClean(otherProblems);
  });
  authored = { file, json, link, results };
});

test('the lesson link reproduces every step: the same top-5 and the same maps', TIMEOUT, async () => {
  assert.ok(authored, 'the authoring test ran');
  await inFreshBrowser(async (context) => {
    const { page, problems } = await openPage(context, authored.link);
    await waitReady(page);
    for (const [i, step] of authored.json.steps.entries()) {
      if (i > 0) {
        await forget(page, panelOf(step.view));
        await page.click('#lesson-next');
      }
      await stepIndex(page, i);
      assert.equal(await page.textContent('#lesson-count'), `Step ${i + 1} of 3`);
      const got = await waitDone(page, panelOf(step.view), imageOf(step.view));
      assert.equal(got.error, null);
      assert.deepEqual(got.top5, authored.results[i].top5, `step ${i + 1}: top-5`);
      assert.deepEqual(got.maps, authored.results[i].maps, `step ${i + 1}: maps`);
      assert.ok(Object.keys(got.maps).length > 0, `step ${i + 1}: maps to compare`);
    }
    // Text as DOM nodes: the list, the https link; the question's answer shown on click.
    assert.equal(await page.getAttribute('#lesson-text a', 'href'), 'https://cs231n.github.io/');
    await page.click('#lesson-prev');
    await stepIndex(page, 1);
    assert.equal(await page.locator('#lesson-text li').count(), 2);
    await page.click('#lesson-question [data-choice="1"]');
    assert.match(await page.textContent('#lesson-question .verdict'), /Not quite: the answer is “13×13”/);
    assert.equal(await page.getAttribute('#lesson-question [data-choice="0"]', 'data-correct'), 'true');
    // A reload keeps the lesson at its step (and the view, which is in the address).
    await page.reload();
    await waitReady(page);
    await stepIndex(page, 1);
    assert.equal(await page.textContent('#lesson-count'), 'Step 2 of 3');
    assert.equal((await waitDone(page, 'gradcam', 'coffee')).error, null);
    assertClean(problems);
  });
});

test('presenter view: full screen, big text, arrow keys, Step n of N, the QR of the step\'s link', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, `${server.url}?lesson=www/lessons/${CS231N}`);
  await waitReady(page);
  await stepIndex(page, 0);
  assert.doesNotMatch(await page.evaluate(() => location.href), /lesson=/, 'the address no longer names the lesson');
  await page.click('#lesson-present');
  assert.equal(await page.evaluate(() => document.body.classList.contains('lesson-presenting')), true);
  const size = await page.evaluate(() => parseFloat(getComputedStyle(document.getElementById('lesson-text')).fontSize));
  assert.ok(size >= 22, `big text: ${size}px`);
  const steps = JSON.parse(readFileSync(path.join(LESSONS, CS231N), 'utf8')).steps;
  await page.evaluate(() => document.activeElement?.blur());
  for (const [key, want] of [['ArrowRight', 1], ['ArrowRight', 2], ['ArrowLeft', 1], ['PageDown', 2]]) {
    await page.keyboard.press(key);
    await stepIndex(page, want);
    assert.equal(await page.textContent('#lesson-count'), `Step ${want + 1} of ${steps.length}`);
  }
  await page.waitForFunction(() => document.getElementById('lesson-qr-image').dataset.link);
  const qr = await page.getAttribute('#lesson-qr-image', 'data-link');
  assert.equal(new URL(qr).hash.slice(1), steps[2].view, 'the QR opens the current step\'s view');
  assert.ok(await page.isVisible('#lesson-qr-image'));
  await waitDone(page, 'fooling', 'chelsea');
  // docs/lesson-presenter.png is this screenshot, made smaller (docs/lessons.md says how).
  await page.screenshot({ path: screenshotPath('lesson-presenter') });
  const qrBox = await page.locator('#lesson-qr-image').boundingBox();
  assert.ok(qrBox.y + qrBox.height <= 720, `the QR code is in sight: ${JSON.stringify(qrBox)}`);
  // Past the last step and before the first: nothing moves.
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await stepIndex(page, 0);
  assert.equal(await page.isDisabled('#lesson-prev'), true);
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], 'axe in the presenter view');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.body.classList.contains('lesson-presenting'));
  assertClean(problems);
  await page.close();
});

test('the built-in CS231n lesson runs every step on a 390×844 phone', TIMEOUT, async () => {
  const phone = await startBrowser({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true, userAgent: PHONE_UA });
  try {
    const { page, problems } = await openPage(phone.context, server.url);
    await waitReady(page);
    await page.click('#lessons-button');
    await page.click(`[data-lesson="${CS231N}"]`);
    await stepIndex(page, 0);
    const steps = JSON.parse(readFileSync(path.join(LESSONS, CS231N), 'utf8')).steps;
    const log = [];
    for (const [i, step] of steps.entries()) {
      const method = panelOf(step.view);
      if (i > 0) {
        await forget(page, method);
        await page.click('#lesson-next');
      }
      await stepIndex(page, i);
      assert.equal(await page.textContent('#lesson-count'), `Step ${i + 1} of ${steps.length}`);
      const t0 = Date.now();
      const got = await waitDone(page, method, imageOf(step.view));
      assert.equal(got.error, null, `step ${i + 1} (${method}) ran`);
      log.push(`${i + 1} ${method} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      // Next and Previous are in reach without scrolling sideways.
      const next = await page.locator('#lesson-next').boundingBox();
      assert.ok(next.x >= 0 && next.x + next.width <= 390, `Next inside the screen: ${JSON.stringify(next)}`);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(wide <= 390, `no sideways scrolling at step ${i + 1}: ${wide}px`);
      if (i === 2) {
        // The step's panel follows its text (the input column goes below it during a lesson).
        const panelTop = (await page.locator('#panel-fooling').boundingBox()).y;
        const inputTop = (await page.locator('#drop-zone').boundingBox()).y;
        assert.ok(panelTop < inputTop, `the fooling panel (${panelTop}) above the input (${inputTop})`);
        await page.screenshot({ path: screenshotPath('lesson-phone-page'), fullPage: true, clip: { x: 0, y: 0, width: 390, height: 1500 } });
        await page.click('#lesson-reveal');
        assert.equal(await page.isVisible('#lesson-explanation'), true);
        await page.screenshot({ path: screenshotPath('lesson-phone') }); // docs/lesson-phone.png, made smaller
      }
    }
    console.log(`# phone, CS231n lesson: ${log.join('; ')}`);
    assert.deepEqual(await axeViolations(page), [], 'axe on the phone');
    assertClean(problems);
  } finally {
    await phone.close();
  }
});

test('bad lessons: one clear sentence each, the page keeps working, valid steps still load', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, server.url);
  await waitReady(page);
  await waitImage(page, 'chelsea');
  const messages = () => page.evaluate(() => window.__netlens.messages.map((m) => m.text));
  const newMessages = async (before) => (await messages()).slice(before);
  for (const [n, bad] of BAD.entries()) {
    const file = path.join(scratch, `bad-${n}.json`);
    writeFileSync(file, bad.text ?? JSON.stringify(bad.lesson));
    const before = (await messages()).length;
    await page.evaluate(() => { window.__netlens.lesson = null; });
    if (n % 2 === 0) {
      await page.click('#lessons-button');
      await page.setInputFiles('#lesson-file-input', file);
    } else {
      // Dropped on the page, as an image or a model is.
      await page.evaluate(async (text) => {
        const dt = new DataTransfer();
        dt.items.add(new File([text], 'dropped.json', { type: 'application/json' }));
        document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, bad.text ?? JSON.stringify(bad.lesson));
    }
    await page.waitForFunction((b) => window.__netlens.messages.length > b, before, { timeout: 30_000 });
    if (bad.steps) await page.waitForFunction((k) => window.__netlens.lesson?.count === k, bad.steps, { timeout: 30_000 });
    await page.keyboard.press('Escape');
    const said = await newMessages(before);
    assert.equal(said.length, 1, `${bad.name}: ${said.join(' | ')}`);
    assert.match(said[0], bad.says, bad.name);
    if (!bad.steps) assert.equal(await page.evaluate(() => window.__netlens.lesson), null, `${bad.name}: no lesson opened`);
  }
  // Over 5 MB: refused before it is read.
  const big = path.join(scratch, 'big.json');
  writeFileSync(big, ' '.repeat(5 * 1024 * 1024 + 1));
  let before = (await messages()).length;
  await page.click('#lessons-button');
  await page.setInputFiles('#lesson-file-input', big);
  await page.waitForFunction((b) => window.__netlens.messages.length > b, before);
  await page.keyboard.press('Escape');
  assert.match((await newMessages(before)).join(' | '), /is 5\.0 MB; a lesson may be at most 5 MB\.$/);
  // No HTML went in: the lesson's text never became elements.
  assert.equal(await page.locator('#lesson-player script, #lesson-player img[src="x"]').count(), 0);
  assertClean(problems);
  // The page still works: another image classifies.
  await page.click('[data-sample="coffee"]');
  await waitImage(page, 'coffee');
  await page.close();

  // A cross-origin ?lesson= and a damaged lesson link.
  for (const [url, says] of [
    [`${server.url}?lesson=${encodeURIComponent('https://example.com/lesson.json')}`, /The lesson address \(https:\/\/example\.com\) is on another site/],
    [`${server.url}#lesson=!!!!`, /The lesson link is damaged/],
    [`${server.url}?lesson=www/lessons/missing.json`, /Could not fetch the lesson “www\/lessons\/missing\.json”: HTTP 404\./],
  ]) {
    const { page: p, problems: pp } = await openPage(browser.context, url);
    await waitReady(p);
    await p.waitForFunction(() => window.__netlens.messages.length > 0, null, { timeout: 30_000 });
    const said = await p.evaluate(() => window.__netlens.messages.map((m) => m.text));
    assert.equal(said.length, 1, said.join(' | '));
    assert.match(said[0], says);
    await p.click('[data-sample="coffee"]');
    await waitImage(p, 'coffee');
    assertClean(pp);
    await p.close();
  }
});

test('a step with the user\'s own image: the share dialog says the link is long and offers the file', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, server.url);
  await waitReady(page);
  await waitImage(page, 'chelsea');
  // A real JPEG (the crop, as the page puts a user's image in a link), in a lesson dropped on the page.
  const lesson = await page.evaluate(async () => {
    const blob = await new Promise((r) => document.getElementById('crop-canvas').toBlob(r, 'image/jpeg', 0.9));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    const data = btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    return { netlens_lesson: 1, title: 'Own image', steps: [
      { view: 'v=1&img=sample:coffee&panel=saliency', text: 'A sample.' },
      { view: `v=1&panel=saliency&img=jpeg:${data}`, text: 'My own photo.' },
    ] };
  });
  await page.evaluate((text) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], 'own.json', { type: 'application/json' }));
    document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, JSON.stringify(lesson));
  await stepIndex(page, 0);
  await page.click('#lesson-next');
  await stepIndex(page, 1);
  assert.equal((await waitDone(page, 'saliency')).error, null, 'the step with the embedded JPEG runs');
  assert.equal(await page.evaluate(() => window.__netlens.imageSource.kind), 'jpeg');
  await page.click('#lesson-share');
  await page.waitForFunction(() => document.getElementById('lesson-link').value.length > 0);
  const length = Number(await page.getAttribute('#lesson-share-dialog', 'data-length'));
  const warning = await page.textContent('#lesson-link-warning');
  console.log(`# lesson link with one own image: ${length} characters`);
  assert.equal(await page.isVisible('#lesson-link-warning'), true);
  assert.match(warning, /Step 2 uses your own image, which travels inside the link and makes it long: share the \.json file instead/);
  assert.ok(length > 2953, `${length} characters: more than a QR code holds`);
  await page.waitForFunction(() => !document.getElementById('lesson-link-qr-error').hidden);
  assert.match(await page.textContent('#lesson-link-qr-error'), /a QR code holds at most 2953/);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#lesson-download')]);
  const file = path.join(scratch, 'own.json');
  await download.saveAs(file);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), lesson, 'the file carries the lesson, image and all');
  await page.click('#lesson-share-close');
  assertClean(problems);
  await page.close();
});

test('accessibility: axe-core finds nothing serious in the Lessons list, the editor, the player and the share dialog', TIMEOUT, async () => {
  const { page, problems } = await openPage(browser.context, server.url);
  await waitReady(page);
  await waitImage(page, 'chelsea');
  await page.click('#lessons-button');
  await page.waitForSelector(`[data-lesson="${CS231N}"]`);
  assert.deepEqual(await axeViolations(page), [], 'axe with the Lessons list open');
  await page.click('#lesson-new');
  await page.click('#lesson-add');
  await page.click('#lesson-steps summary');
  assert.deepEqual(await axeViolations(page), [], 'axe with the editor open');
  await page.click('#lesson-play');
  await stepIndex(page, 0);
  assert.deepEqual(await axeViolations(page), [], 'axe with the player open');
  await page.click('#lesson-share');
  await page.waitForFunction(() => document.getElementById('lesson-link-qr').dataset.link);
  assert.deepEqual(await axeViolations(page), [], 'axe with the share dialog open');
  await page.click('#lesson-share-close');
  assertClean(problems);
  await page.close();
});

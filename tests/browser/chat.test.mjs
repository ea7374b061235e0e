// tests/browser/chat.test.mjs — Hard-E's page in a real browser.
//
// What it is for: drives Debian's Chromium (headless, through playwright-core)
// against a running `harde serve` (or tests/browser/mock_server.py) the way
// a rep would: signs in, asks for a roof price, watches the answer stream in,
// reads the quote table and the Good/Better/Best cards, switches sessions,
// opens the Jobs view, logs out; and at phone size (390×844) does the same.
// Screenshots (desktop and phone, full page) are kept in $HARDE_ARTIFACTS.
//
// What it owns: one browser process (a fresh temporary profile made by
// playwright-core, removed on close) and the files it writes in
// $HARDE_ARTIFACTS.
//
// Design: node's built-in test runner, tests run in order and share one
// signed-in page. Streaming is observed from inside the page: an init script
// installs a MutationObserver that records, at every DOM change, the length
// of the newest answer and its data-state ("streaming" until the final
// event). The page yields between SSE events, so every delta is seen even
// when the server's bytes arrive in one packet. Behaviour the real server
// cannot be made to show on demand (a Stop in the middle of an answer, a
// 429, an SSE error event, a workflow state) is driven by standing in for the
// network inside the page (a fetch stand-in or page.route) — the page code
// under test is unchanged.
//
// Environment: HARDE_BASE_URL (required, e.g. http://127.0.0.1:8080),
// HARDE_TEST_PASSWORD (required), HARDE_TEST_USER (default admin),
// HARDE_ARTIFACTS (default: a temporary directory), CHROMIUM (default
// /usr/bin/chromium).
// Run: HARDE_BASE_URL=... HARDE_TEST_PASSWORD=... node --test chat.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = (process.env.HARDE_BASE_URL || '').replace(/\/$/, '');
const USER = process.env.HARDE_TEST_USER || 'admin';
const PASSWORD = process.env.HARDE_TEST_PASSWORD || '';
const ARTIFACTS = process.env.HARDE_ARTIFACTS || mkdtempSync(path.join(tmpdir(), 'harde-shots-'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const QUESTION = 'price a 2400 sq ft hip roof, 7/12, architectural, one layer';
const TOTAL = '21,368.67';
const TURN_TIMEOUT = 60_000;
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

if (!BASE || !PASSWORD) throw new Error('set HARDE_BASE_URL and HARDE_TEST_PASSWORD');
mkdirSync(ARTIFACTS, { recursive: true });

// Runs in the page before its own scripts: records every change of the
// newest answer as {len, state, activity, tools}.
function observeAnswers() {
  window.__answerLog = [];
  const record = () => {
    const all = document.querySelectorAll('#messages .msg-bot');
    const last = all[all.length - 1];
    if (!last) return;
    const answer = last.querySelector('.answer');
    const activity = last.querySelector('.msg-activity');
    window.__answerLog.push({
      n: all.length,
      len: answer ? answer.textContent.length : 0,
      state: last.dataset.state,
      activity: activity && !activity.hidden ? activity.textContent : '',
      agent: (last.querySelector('.msg-agent') || {}).textContent || '',
    });
  };
  new MutationObserver(record).observe(document, {
    subtree: true, childList: true, characterData: true, attributes: true,
    attributeFilter: ['data-state', 'hidden'],
  });
}

let browser;
let desktop; // {context, page}
const pageErrors = [];

async function newPage(options) {
  const context = await browser.newContext({ baseURL: BASE, ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (err) => pageErrors.push('pageerror: ' + err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push('console: ' + msg.text());
  });
  await page.addInitScript(observeAnswers);
  return { context, page };
}

// A full-page screenshot. The page scrolls as one document with a sticky
// header and composer, so the viewport is first made as tall as the page
// (sticky parts then sit where a reader expects them), then restored.
async function shot(page, name) {
  const file = path.join(ARTIFACTS, name);
  const size = page.viewportSize();
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: size.width, height: Math.min(Math.max(height, size.height), 8000) });
  try {
    await page.screenshot({ path: file, fullPage: true });
  } finally {
    await page.setViewportSize(size);
  }
  return file;
}

// Runs fn; on failure keeps a screenshot named after the test.
function withShot(name, fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (err) {
      const page = desktop && desktop.page;
      if (page && !page.isClosed())
        await shot(page, 'failure-' + name.replace(/[^a-z0-9]+/gi, '-') + '.png').catch(() => {});
      throw err;
    }
  };
}

async function signIn(page, password) {
  await page.getByLabel('User name').fill(USER);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('Password').press('Enter');
}

// Asks question in the composer (keyboard only) and waits for the answer to
// finish; returns {log, answer} — the observations and the answer's locator.
async function ask(page, question, wantState = 'done') {
  const before = await page.locator('#messages .msg-bot').count();
  await page.evaluate(() => { window.__answerLog = []; });
  const input = page.getByLabel('Message to Hard-E');
  await input.fill(question);
  await input.press('Enter');
  const answer = page.locator('#messages .msg-bot').nth(before);
  await answer.waitFor({ state: 'attached' });
  await page.waitForFunction((n) => {
    const m = document.querySelectorAll('#messages .msg-bot')[n];
    return m && m.dataset.state !== 'streaming';
  }, before, { timeout: TURN_TIMEOUT });
  assert.equal(await answer.getAttribute('data-state'), wantState,
    'answer ended as ' + (await answer.getAttribute('data-state')) + ': ' +
    (await answer.textContent()));
  const log = await page.evaluate((n) => window.__answerLog.filter((o) => o.n === n + 1), before);
  return { log, answer };
}

// Lengths of the answer seen while it was still streaming, in order.
function streamingLengths(log) {
  const out = [];
  for (const o of log) {
    if (o.state !== 'streaming') break;
    if (o.len > 0 && (out.length === 0 || o.len !== out[out.length - 1])) out.push(o.len);
  }
  return out;
}

async function checkQuote(answer) {
  const quote = answer.locator('section.quote');
  await quote.waitFor();
  const total = quote.locator('.quote-table tfoot .total-row .amount');
  assert.match(await total.textContent(), new RegExp(TOTAL.replace('.', '\\.')));
  assert.match(await quote.locator('.quote-table tfoot .subtotal-row .amount').textContent(),
    /19,924\.17/);
  assert.match(await quote.locator('.quote-table tfoot .tax-row .amount').textContent(), /1,444\.50/);
  const lines = await quote.locator('.quote-table tbody tr').allTextContents();
  assert.ok(lines.length >= 3, 'quote lines: ' + JSON.stringify(lines));
  assert.ok(lines.some((l) => /17,499\.17/.test(l)), 'roof line: ' + JSON.stringify(lines));
  const cards = quote.locator('.options .option-card');
  assert.equal(await cards.count(), 3);
  const tiers = await cards.locator('.option-tier').allTextContents();
  assert.deepEqual(tiers.map((s) => s.trim()), ['Good', 'Better', 'Best']);
  for (let i = 0; i < 3; i++) {
    const card = cards.nth(i);
    assert.match(await card.locator('.option-total').textContent(), /^\$\d{1,3}(,\d{3})*\.\d\d$/);
    assert.ok((await card.locator('.financing .monthly').count()) >= 1, 'card ' + i + ' has no monthly payment');
    assert.match(await card.locator('.financing .monthly').first().textContent(), /\/mo$/);
  }
  const selected = quote.locator('.option-card.selected');
  assert.equal(await selected.count(), 1);
  assert.match(await selected.locator('.option-total').textContent(), /21,368\.67/);
}

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
  desktop = await newPage({ viewport: { width: 1280, height: 860 } });
});

after(async () => {
  if (browser) await browser.close();
});

test('the sign-in form has labelled inputs', withShot('sign-in form', async () => {
  const { page } = desktop;
  await page.goto('/');
  await page.getByLabel('User name').waitFor();
  await page.getByLabel('Password').waitFor();
  assert.equal(await page.getByLabel('Password').getAttribute('type'), 'password');
  assert.equal(await page.locator('#app-view').isVisible(), false);
}));

test('a wrong password shows the API error plainly', withShot('wrong password', async () => {
  const { page } = desktop;
  const answered = page.waitForResponse((r) => r.url().endsWith('/v1/login'));
  await signIn(page, PASSWORD + '-wrong');
  const resp = await answered;
  assert.equal(resp.status(), 401);
  const body = await resp.json();
  assert.equal(typeof body.error.message, 'string');
  const box = page.locator('#login-error');
  await box.waitFor({ state: 'visible' });
  assert.equal(await box.getAttribute('role'), 'alert');
  assert.equal((await box.textContent()).trim(), body.error.message);
  assert.equal(await page.locator('#app-view').isVisible(), false);
  await shot(page, 'sign-in-error.png');
}));

test('signing in with the keyboard opens the chat', withShot('sign in', async () => {
  const { page } = desktop;
  await signIn(page, PASSWORD);
  await page.locator('#app-view').waitFor({ state: 'visible' });
  assert.match(await page.locator('#user-label').textContent(), new RegExp(USER));
  assert.equal(await page.locator('#login-error').isVisible(), false);
  // Focus is in the message box, ready to type.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'composer-input');
}));

test('the pricing answer streams in, with the agent and its tool activity',
  withShot('streaming', async () => {
    const { page } = desktop;
    const sent = page.waitForRequest((r) => r.method() === 'POST' && /\/messages$/.test(r.url()));
    const { log, answer } = await ask(page, QUESTION);
    const req = await sent;
    const headers = req.headers();
    assert.match(headers['accept'] || '', /text\/event-stream/);
    assert.ok((headers['x-csrf-token'] || '').length > 0, 'no X-CSRF-Token on the turn');
    assert.deepEqual(JSON.parse(req.postData()), { text: QUESTION });

    const lengths = streamingLengths(log);
    assert.ok(lengths.length >= 2 && lengths[lengths.length - 1] > lengths[0],
      'the answer did not grow over two observations before the final event: ' +
      JSON.stringify(lengths));
    assert.ok(log.some((o) => o.state === 'streaming' && /pric[^…]*…/i.test(o.activity)),
      'no tool activity shown while the tool ran: ' + JSON.stringify(log.map((o) => o.activity)));
    assert.equal((await answer.locator('.msg-agent').textContent()).trim(), 'Pricing');
    const tools = await answer.locator('.msg-tools .tool').allTextContents();
    assert.ok(tools.some((t) => /pric/i.test(t)), 'tool activity kept: ' + JSON.stringify(tools));
    assert.match(await answer.locator('.answer').textContent(), /21,368\.67/);
    assert.equal(await answer.getAttribute('aria-busy'), 'false');
    assert.equal(await page.locator('#messages').getAttribute('aria-live'), 'polite');
  }));

test('the quote shows as a table with three option cards', withShot('quote', async () => {
  const { page } = desktop;
  await checkQuote(page.locator('#messages .msg-bot').last());
}));

test('the new session is listed and current', withShot('session list', async () => {
  const { page } = desktop;
  const current = page.locator('#session-list .session-item[aria-current="true"]');
  await current.waitFor();
  assert.match(await current.textContent(), /2400 sq ft hip roof/);
}));

test('desktop screenshot', withShot('desktop screenshot', async () => {
  const { page } = desktop;
  const file = await shot(page, 'chat-desktop.png');
  assert.ok(statSync(file).size > 10_000, file + ' is too small');
}));

test('Markdown is rendered safely', withShot('markdown', async () => {
  const { page } = desktop;
  const out = await page.evaluate(() => {
    const r = window.HardE.renderMarkdown;
    const box = document.createElement('div');
    const render = (src) => { box.innerHTML = r(src); return box; };
    const res = {};
    render('**bold** and *it* and `a<b>` [site](https://example.com/x?a=1&b=2) ' +
      '[bad](javascript:alert(1)) <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>');
    res.strong = box.querySelector('strong')?.textContent;
    res.em = box.querySelector('em')?.textContent;
    res.code = box.querySelector('code')?.textContent;
    res.links = [...box.querySelectorAll('a')].map((a) => [a.getAttribute('href'), a.rel]);
    res.tags = [...box.querySelectorAll('*')].map((e) => e.tagName.toLowerCase());
    res.text = box.textContent;
    render('- one\n- two\n\n1. first\n2. second\n\n```\n<b>x</b>\n```');
    res.lists = [box.querySelectorAll('ul li').length, box.querySelectorAll('ol li').length];
    res.pre = box.querySelector('pre code')?.textContent;
    render('[x](https://a.example/"onmouseover="alert(1)) snake_case_name');
    res.attrs = [...box.querySelectorAll('*')].flatMap((e) => [...e.attributes].map((a) => a.name));
    res.snake = box.textContent.includes('snake_case_name');
    render('[y](https://b.example/`c`) **a *b** c*');
    res.hrefs = [...box.querySelectorAll('a')].map((a) => a.getAttribute('href'));
    res.pwned = window.__pwned;
    return res;
  });
  assert.equal(out.strong, 'bold');
  assert.equal(out.em, 'it');
  assert.equal(out.code, 'a<b>');
  assert.deepEqual(out.links, [['https://example.com/x?a=1&b=2', 'noopener noreferrer']]);
  assert.ok(!out.tags.includes('img') && !out.tags.includes('script'), JSON.stringify(out.tags));
  assert.match(out.text, /<img src=x/);
  assert.deepEqual(out.lists, [2, 2]);
  assert.equal(out.pre, '<b>x</b>');
  assert.ok(!out.attrs.includes('onmouseover'), JSON.stringify(out.attrs));
  assert.ok(out.snake, 'underscores inside words are not emphasis');
  assert.ok(out.hrefs.every((h) => !h.includes('<')), JSON.stringify(out.hrefs));
  assert.equal(out.pwned, undefined);
}));

test('the SSE parser follows the event-stream rules', withShot('sse parser', async () => {
  const { page } = desktop;
  const events = await page.evaluate(() => {
    const p = new window.HardE.SseParser();
    const got = [];
    const feed = (s) => got.push(...p.push(s));
    // A BOM, a comment, CRLF split between pieces, a field split mid-name,
    // multi-line data, a field without a space, a bare CR line end.
    feed('\uFEFF: keep-alive\r');
    feed('\nevent: agent\r\ndata: {"agent":"Tri');
    feed('age"}\r\n\r\nev');
    feed('ent: delta\ndata: line one\ndata:line two\n\n');
    feed('data: plain\r\rid: 7\n\n');
    feed('event: final\ndata: {"text":"cut off"');
    got.push(...p.end());
    return got;
  });
  assert.deepEqual(events, [
    { event: 'agent', data: '{"agent":"Triage"}' },
    { event: 'delta', data: 'line one\nline two' },
    { event: 'message', data: 'plain' },
  ]);
}));

test('Stop aborts the answer in flight', withShot('stop', async () => {
  const { page } = desktop;
  // Stand in for the network: an SSE answer that never finishes until the
  // page aborts its fetch.
  await page.evaluate(() => {
    const real = window.fetch;
    window.__probe = { real };
    window.fetch = (url, init) => {
      if (!/\/messages$/.test(String(url))) return real(url, init);
      const h = new Headers(init.headers);
      window.__probe.csrf = h.get('X-CSRF-Token');
      const enc = new TextEncoder();
      const body = new ReadableStream({
        start(c) {
          c.enqueue(enc.encode('event: agent\ndata: {"agent":"Sales Coach"}\n\n'));
          c.enqueue(enc.encode('event: delta\ndata: {"text":"Start with "}\n\n'));
          init.signal.addEventListener('abort', () => {
            window.__probe.aborted = true;
            c.error(new DOMException('The user aborted a request.', 'AbortError'));
          });
        },
      });
      return Promise.resolve(new Response(body, { headers: { 'Content-Type': 'text/event-stream' } }));
    };
  });
  try {
    const input = page.getByLabel('Message to Hard-E');
    await input.fill('how do I open the appointment?');
    await input.press('Enter');
    const stop = page.getByRole('button', { name: 'Stop' });
    await stop.waitFor({ state: 'visible' });
    const answer = page.locator('#messages .msg-bot').last();
    await answer.locator('.answer', { hasText: 'Start with' }).waitFor();
    assert.equal(await answer.getAttribute('data-state'), 'streaming');
    await stop.click();
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#messages .msg-bot')].pop().dataset.state === 'stopped');
    const probe = await page.evaluate(() => ({ aborted: window.__probe.aborted, csrf: window.__probe.csrf }));
    assert.equal(probe.aborted, true);
    assert.ok(probe.csrf && probe.csrf.length > 0, 'no CSRF token sent');
    assert.equal(await stop.isVisible(), false);
    assert.equal(await page.getByRole('button', { name: 'Send' }).isVisible(), true);
  } finally {
    await page.evaluate(() => { window.fetch = window.__probe.real; });
  }
}));

test('API and stream errors are shown plainly', withShot('errors', async () => {
  const { page } = desktop;
  const pattern = /\/v1\/sessions\/[^/]+\/messages$/;
  await page.route(pattern, (route) => route.fulfill({
    status: 429,
    headers: { 'Retry-After': '7' },
    contentType: 'application/json',
    body: JSON.stringify({ error: { code: 'rate_limited', message: 'too many requests: 30 a minute' } }),
  }));
  try {
    const { answer } = await ask(page, 'hello again', 'error');
    assert.match(await answer.locator('.msg-note-error').textContent(),
      /too many requests: 30 a minute \(try again in 7 s\)/);
  } finally {
    await page.unroute(pattern);
  }
  await page.route(pattern, (route) => route.fulfill({
    status: 200,
    contentType: 'text/event-stream',
    body: 'event: agent\ndata: {"agent":"Sales Coach"}\n\n: keep-alive\n\n' +
      'event: delta\r\ndata: {"text":"Partial "}\r\n\r\n' +
      'event: error\ndata: {"message":"the model did not answer in time"}\n\n',
  }));
  try {
    const { answer } = await ask(page, 'and now?', 'error');
    assert.match(await answer.locator('.answer').textContent(), /Partial/);
    assert.equal((await answer.locator('.msg-agent').textContent()).trim(), 'Sales Coach');
    assert.match(await answer.locator('.msg-note-error').textContent(), /the model did not answer in time/);
  } finally {
    await page.unroute(pattern);
  }
}));

test('the workflow panel shows filled and missing fields', withShot('workflow', async () => {
  const { page } = desktop;
  const pattern = /\/v1\/sessions\/[^/]+\/messages$/;
  const final = {
    text: "What's their **phone number**?", agent: 'CRM', path: ['Triage', 'CRM'], flow: 'agent',
    state: {
      kind: 'new_client', title: 'New client',
      fields: [
        { name: 'name', label: 'Customer name', value: 'Dana <b>Whitfield</b>', required: true, filled: true },
        { name: 'phone', label: 'Phone', required: true, filled: false },
        { name: 'email', label: 'Email', required: false, filled: false },
      ],
      missing: ['Phone'],
    },
  };
  await page.route(pattern, (route) => route.fulfill({
    status: 200, contentType: 'text/event-stream',
    body: 'event: agent\ndata: {"agent":"CRM"}\n\nevent: final\ndata: ' + JSON.stringify(final) + '\n\n',
  }));
  try {
    await ask(page, 'new client Dana Whitfield');
  } finally {
    await page.unroute(pattern);
  }
  const panel = page.locator('#state-panel');
  assert.match(await panel.locator('.state-title').textContent(), /New client/);
  assert.equal(await panel.locator('.field-filled').count(), 1);
  assert.equal(await panel.locator('.field-missing').count(), 2);
  assert.match(await panel.locator('.field-filled .field-value').textContent(), /Dana <b>Whitfield<\/b>/);
  assert.match(await panel.locator('.state-missing').textContent(), /Still needed: Phone/);
}));

test('sessions can be switched and a new chat started', withShot('switch sessions', async () => {
  const { page } = desktop;
  await page.getByRole('button', { name: 'New chat' }).click();
  assert.equal(await page.locator('#messages .msg').count(), 0);
  assert.equal(await page.locator('#session-list [aria-current="true"]').count(), 0);
  const item = page.locator('#session-list .session-item', { hasText: '2400 sq ft hip roof' }).first();
  const loaded = page.waitForResponse((r) => /\/v1\/sessions\/[^/]+$/.test(r.url()));
  await item.click();
  assert.equal((await loaded).status(), 200);
  await page.locator('#messages .msg-user', { hasText: QUESTION }).first().waitFor();
  assert.match(await page.locator('#messages .msg-bot').first().textContent(), /21,368\.67/);
  assert.equal(await item.getAttribute('aria-current'), 'true');
}));

test('reloading keeps the rep signed in', withShot('reload', async () => {
  const { page } = desktop;
  await page.reload();
  await page.locator('#app-view').waitFor({ state: 'visible' });
  assert.match(await page.locator('#user-label').textContent(), new RegExp(USER));
}));

test('the Jobs view lists runs or says there are none', withShot('jobs', async () => {
  const { page } = desktop;
  await page.getByRole('button', { name: 'Jobs' }).click();
  await page.locator('#jobs-view').waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.getElementById('jobs-body').getAttribute('aria-busy') === 'false');
  const shown = await page.locator('#jobs-body .empty-state, #jobs-body .run-card').count();
  assert.ok(shown >= 1, 'neither runs nor the empty state');
  assert.equal(await page.locator('#jobs-error').isVisible(), false);
  await shot(page, 'jobs-desktop.png');
  await page.getByRole('button', { name: 'Chat' }).click();
  await page.locator('#chat-view').waitFor({ state: 'visible' });
}));

test('on a phone (390×844) the chat and the quote fit the screen', async () => {
  const phone = await newPage({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  const { page } = phone;
  try {
    await page.goto('/');
    await signIn(page, PASSWORD);
    await page.locator('#app-view').waitFor({ state: 'visible' });
    // The session list is a drawer behind a labelled toggle.
    const toggle = page.getByRole('button', { name: 'Sessions' });
    assert.equal(await page.locator('#sessions-panel').isVisible(), false);
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await page.locator('#sessions-panel').waitFor({ state: 'visible' });
    assert.ok((await page.locator('#session-list .session-item').count()) >= 1);
    await page.keyboard.press('Escape');
    const { log, answer } = await ask(page, QUESTION);
    assert.ok(streamingLengths(log).length >= 2, 'no streaming seen on the phone');
    await checkQuote(answer);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, 'the page is ' + overflow + ' px wider than the phone');
    const file = await shot(page, 'chat-phone.png');
    assert.ok(statSync(file).size > 10_000, file + ' is too small');
  } catch (err) {
    await shot(page, 'failure-phone.png').catch(() => {});
    throw err;
  } finally {
    await phone.context.close();
  }
});

test('logging out returns to the sign-in form and ends the session', withShot('logout', async () => {
  const { page } = desktop;
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.locator('#login-view').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#app-view').isVisible(), false);
  const status = await page.evaluate(async () => (await fetch('/v1/me')).status);
  assert.equal(status, 401);
}));

test('the page raised no script errors', () => {
  // 4xx answers the tests provoke on purpose are logged by Chromium as
  // failed resources; anything else is a real error.
  const real = pageErrors.filter((e) => !/status of (401|404|429)/.test(e));
  assert.deepEqual(real, []);
});

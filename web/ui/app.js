/* web/ui/app.js — the behaviour of Hard-E's page (index.html).
 *
 * What it is for: a rep signs in, chats with Hard-E (answers stream in token
 * by token), sees quotes as a table with Good/Better/Best cards, the
 * session's workflow state, their sessions, and the primer-video jobs.
 *
 * What it owns: the page's state (the signed-in user, the CSRF token, the
 * current session, the turn in flight) and every DOM update. The CSRF token
 * is kept in sessionStorage so a reload of the tab keeps working; the session
 * cookie itself is HttpOnly and never seen here.
 *
 * Design: plain modern JS, no framework, no build step, no third-party code.
 * Every request goes through api(), which sends the CSRF header on
 * state-changing calls and turns the API's one error shape
 * ({"error": {"code", "message", "details"?}}) into an ApiError whose text is
 * shown to the rep as it is. A chat turn is a fetch() POST with
 * `Accept: text/event-stream` (EventSource cannot POST); the body is read
 * from its ReadableStream and parsed by SseParser (the WHATWG event-stream
 * rules: event/data fields, comments, CR/LF/CRLF line ends). Each event
 * updates the DOM at once and the loop yields between events, so the answer
 * visibly grows delta by delta. Stop aborts the fetch through an
 * AbortController, which closes the connection and so cancels the turn on
 * the server. Markdown is rendered by renderMarkdown(): the text is
 * HTML-escaped first, then a small fixed set of constructs (bold, italic,
 * code, code blocks, lists, headings, http(s) links) is turned into tags,
 * so nothing the model writes can add markup of its own. */
'use strict';

(function () {
  // ---- small helpers ---------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  /* Creates an element with a class and optional text; returns it (new). */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]);
  }

  const moneyFormats = new Map();
  /* "$21,368.67" for 21368.67 in currency (default USD). */
  function money(value, currency) {
    const cur = /^[A-Z]{3}$/.test(currency || '') ? currency : 'USD';
    let fmt = moneyFormats.get(cur);
    if (!fmt) {
      fmt = new Intl.NumberFormat('en-US', {
        style: 'currency', currency: cur, minimumFractionDigits: 2, maximumFractionDigits: 2,
      });
      moneyFormats.set(cur, fmt);
    }
    return typeof value === 'number' && isFinite(value) ? fmt.format(value) : '—';
  }

  function number(value, digits) {
    if (typeof value !== 'number' || !isFinite(value)) return '—';
    return value.toLocaleString('en-US', { maximumFractionDigits: digits });
  }

  function percent(rate) {
    if (typeof rate !== 'number' || !isFinite(rate)) return '';
    return (rate * 100).toLocaleString('en-US', { maximumFractionDigits: 2 }) + '%';
  }

  function when(ms) {
    if (typeof ms !== 'number' || !isFinite(ms) || ms <= 0) return '';
    const d = new Date(ms);
    const today = new Date();
    if (d.toDateString() === today.toDateString())
      return d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
    return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  }

  // ---- Markdown ----------------------------------------------------------------

  const MD_HOLE = '\u0000';

  /* Inline Markdown of one block's text: returns HTML (new string). The text
   * is escaped first; code spans and links are cut out into placeholders so
   * emphasis never reaches inside them. */
  function mdInline(raw) {
    const holes = [];
    const hole = (html) => MD_HOLE + (holes.push(html) - 1) + MD_HOLE;
    let s = escapeHtml(raw);
    s = s.replace(/`([^`]+)`/g, (_, code) => hole('<code>' + code + '</code>'));
    s = s.replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s()\u0000]+)\)/g, (_, text, url) =>
      hole('<a href="' + url + '" target="_blank" rel="noopener noreferrer">' +
           mdEmphasis(text) + '</a>'));
    s = mdEmphasis(s);
    return s.replace(/\u0000(\d+)\u0000/g, (_, i) => holes[Number(i)]);
  }

  function mdEmphasis(s) {
    return s
      .replace(/\*\*(?=\S)([^*]*?\S)\*\*/g, '<strong>$1</strong>')
      .replace(/(^|[^\w])__(?=\S)([^_]*?\S)__(?!\w)/g, '$1<strong>$2</strong>')
      .replace(/\*(?=[^\s*])([^*<]*?[^\s*<])\*/g, '<em>$1</em>')
      .replace(/(^|[^\w])_(?=[^\s_])([^_<]*?[^\s_<])_(?!\w)/g, '$1<em>$2</em>');
  }

  const MD_FENCE = /^\s{0,3}(```+|~~~+)\s*([\w+#.-]*)\s*$/;
  const MD_HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const MD_RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
  const MD_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;

  /* Renders Markdown source to safe HTML (a new string). Supports
   * paragraphs, line breaks, headings, rules, fenced code blocks, bullet and
   * numbered lists (one level; indented lines continue an item), bold,
   * italic, inline code and links with http(s) URLs only. */
  function renderMarkdown(source) {
    const lines = String(source == null ? '' : source)
      .replace(/\u0000/g, '\uFFFD').replace(/\r\n?/g, '\n').split('\n');
    const out = [];
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      const fence = MD_FENCE.exec(line);
      if (fence) {
        const body = [];
        const close = new RegExp('^\\s{0,3}' + fence[1][0] + '{' + fence[1].length + ',}\\s*$');
        for (i++; i < lines.length && !close.test(lines[i]); i++) body.push(lines[i]);
        i++; // the closing fence (or the end of an unfinished block)
        const lang = fence[2] ? ' data-lang="' + escapeHtml(fence[2]) + '"' : '';
        out.push('<pre' + lang + '><code>' + escapeHtml(body.join('\n')) + '</code></pre>');
        continue;
      }
      if (!line.trim()) { i++; continue; }
      const heading = MD_HEADING.exec(line);
      if (heading) {
        const level = Math.min(6, heading[1].length + 2);
        out.push('<h' + level + '>' + mdInline(heading[2]) + '</h' + level + '>');
        i++;
        continue;
      }
      if (MD_RULE.test(line)) { out.push('<hr>'); i++; continue; }
      const item = MD_ITEM.exec(line);
      if (item) { i = mdList(lines, i, out); continue; }
      const para = [];
      while (i < lines.length && lines[i].trim() && !MD_FENCE.test(lines[i]) &&
             !MD_HEADING.test(lines[i]) && !MD_ITEM.test(lines[i]) && !MD_RULE.test(lines[i]))
        para.push(lines[i++].trim());
      out.push('<p>' + para.map(mdInline).join('<br>') + '</p>');
    }
    return out.join('\n');
  }

  /* One list starting at lines[i]; appends its HTML to out and returns the
   * index of the first line after it. */
  function mdList(lines, i, out) {
    const marker = MD_ITEM.exec(lines[i])[2];
    const ordered = /\d/.test(marker);
    const start = ordered ? parseInt(marker, 10) : 1;
    const items = [];
    while (i < lines.length) {
      const m = MD_ITEM.exec(lines[i]);
      if (m && /\d/.test(m[2]) === ordered) {
        items.push([m[3]]);
        i++;
      } else if (m || !lines[i].trim()) {
        // A blank line ends the list unless the list goes on after it.
        const next = lines[i + 1];
        const nm = next !== undefined && !lines[i].trim() ? MD_ITEM.exec(next) : null;
        if (nm && /\d/.test(nm[2]) === ordered) { i++; continue; }
        break;
      } else if (/^\s+\S/.test(lines[i]) && items.length) {
        items[items.length - 1].push(lines[i++].trim());
      } else {
        break;
      }
    }
    const tag = ordered ? 'ol' : 'ul';
    out.push('<' + tag + (ordered && start !== 1 ? ' start="' + start + '"' : '') + '>' +
             items.map((parts) => '<li>' + parts.map(mdInline).join('<br>') + '</li>').join('') +
             '</' + tag + '>');
    return i;
  }

  // ---- the API -----------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, details, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = Array.isArray(details) ? details : [];
      this.retryAfter = retryAfter;
    }
  }

  const CSRF_KEY = 'harde.csrf';
  const state = {
    user: null,
    csrf: null,
    sessionId: null,
    sessions: [],
    turn: null, // {controller, message} while an answer streams
    view: 'chat',
  };

  function loadCsrf() {
    try { return sessionStorage.getItem(CSRF_KEY); } catch (_) { return null; }
  }

  function saveCsrf(token) {
    state.csrf = token || null;
    try {
      if (token) sessionStorage.setItem(CSRF_KEY, token);
      else sessionStorage.removeItem(CSRF_KEY);
    } catch (_) { /* storage disabled: the token lives as long as the page */ }
  }

  /* Turns a failed response into an ApiError (new), reading the API's error
   * shape when the body has it. */
  async function errorFrom(resp) {
    let code = 'http_' + resp.status;
    let message = resp.status + ' ' + (resp.statusText || 'error');
    let details;
    try {
      const body = await resp.json();
      if (body && body.error && typeof body.error === 'object') {
        if (typeof body.error.code === 'string') code = body.error.code;
        if (typeof body.error.message === 'string') message = body.error.message;
        details = body.error.details;
      }
    } catch (_) { /* not JSON: keep the status line */ }
    const retry = Number(resp.headers.get('Retry-After'));
    return new ApiError(resp.status, code, message, details, isFinite(retry) ? retry : undefined);
  }

  /* Sends one API request; resolves to the parsed JSON body (new) or rejects
   * with an ApiError. opts: {body, signal, accept, raw, quiet401} — raw
   * resolves to the Response itself (for streaming); a 401 signs the page out
   * unless quiet401 is set. */
  async function api(method, path, opts) {
    opts = opts || {};
    const headers = { Accept: opts.accept || 'application/json' };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        credentials: 'same-origin',
        cache: 'no-store',
        signal: opts.signal,
      });
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      throw new ApiError(0, 'network', 'Cannot reach the Hard-E server. Check your connection and try again.');
    }
    if (!resp.ok) {
      const err = await errorFrom(resp);
      if (err.status === 401 && !opts.quiet401) signedOut('Your sign-in has expired. Please sign in again.');
      throw err;
    }
    if (opts.raw) return resp;
    if (resp.status === 204) return {};
    try {
      return await resp.json();
    } catch (_) {
      throw new ApiError(resp.status, 'bad_response', 'The server sent an answer the page cannot read.');
    }
  }

  /* The text a rep sees for an error: the API's message, its details, and
   * when to retry. */
  function errorText(err) {
    if (!(err instanceof ApiError)) return (err && err.message) || String(err);
    let text = err.message;
    if (err.code === 'rate_limited' && err.retryAfter)
      text += ' (try again in ' + err.retryAfter + ' s)';
    return text;
  }

  function showError(box, err) {
    box.textContent = '';
    if (!err) { show(box, false); return; }
    box.append(el('span', null, errorText(err)));
    if (err instanceof ApiError && err.details.length) {
      const list = el('ul', 'error-details');
      for (const d of err.details) list.append(el('li', null, d));
      box.append(list);
    }
    show(box, true);
  }

  // ---- Server-Sent Events ------------------------------------------------------

  /* An incremental text/event-stream parser. push(text) takes the next
   * decoded piece and returns the events completed by it, each
   * {event, data} (new objects); end() marks the end of the stream, where
   * an event cut off before its blank line is dropped, as the standard
   * says. */
  class SseParser {
    constructor() {
      this.buffer = '';
      this.started = false;
      this.reset();
    }

    reset() {
      this.eventType = '';
      this.data = [];
    }

    push(text) {
      const events = [];
      this.buffer += text;
      if (!this.started && this.buffer.length) {
        if (this.buffer[0] === '\uFEFF') this.buffer = this.buffer.slice(1);
        this.started = true;
      }
      for (;;) {
        const m = /\r\n|\r|\n/.exec(this.buffer);
        if (!m) break;
        // A CR at the very end may be the first half of a CRLF: wait.
        if (m[0] === '\r' && m.index === this.buffer.length - 1) break;
        const line = this.buffer.slice(0, m.index);
        this.buffer = this.buffer.slice(m.index + m[0].length);
        const ev = this.line(line);
        if (ev) events.push(ev);
      }
      return events;
    }

    end() {
      this.buffer = '';
      this.reset();
      return [];
    }

    line(line) {
      if (line === '') {
        if (!this.data.length) { this.reset(); return null; }
        const ev = { event: this.eventType || 'message', data: this.data.join('\n') };
        this.reset();
        return ev;
      }
      if (line[0] === ':') return null; // a comment (keep-alive)
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (field === 'event') this.eventType = value;
      else if (field === 'data') this.data.push(value);
      return null;
    }
  }

  // ---- views -------------------------------------------------------------------

  function signedOut(message) {
    abortTurn();
    state.user = null;
    state.sessionId = null;
    state.sessions = [];
    saveCsrf(null);
    show($('app-view'), false);
    show($('login-view'), true);
    showError($('login-error'), message ? new Error(message) : null);
    $('login-password').value = '';
    $('login-submit').disabled = false;
    $('login-name').focus();
  }

  function signedIn(user) {
    state.user = user;
    show($('login-view'), false);
    show($('app-view'), true);
    const role = user.role ? ' · ' + user.role : '';
    $('user-label').textContent = (user.name || '') + role;
    setView('chat');
    newChat();
    refreshSessions();
  }

  function setView(view) {
    state.view = view;
    $('tab-chat').toggleAttribute('aria-current', false);
    $('tab-jobs').toggleAttribute('aria-current', false);
    $(view === 'jobs' ? 'tab-jobs' : 'tab-chat').setAttribute('aria-current', 'page');
    show(document.querySelector('.layout'), view === 'chat');
    show($('jobs-view'), view === 'jobs');
    show($('sessions-toggle'), view === 'chat');
    if (view === 'jobs') loadJobs();
  }

  // ---- sign-in -----------------------------------------------------------------

  async function onLogin(event) {
    event.preventDefault();
    const name = $('login-name').value.trim();
    const password = $('login-password').value;
    if (!name || !password) {
      showError($('login-error'), new Error('Enter your user name and password.'));
      (name ? $('login-password') : $('login-name')).focus();
      return;
    }
    $('login-submit').disabled = true;
    try {
      const res = await api('POST', '/v1/login', { body: { name, password }, quiet401: true });
      saveCsrf(res.csrf_token);
      showError($('login-error'), null);
      $('login-password').value = '';
      signedIn(res.user || { name });
      $('composer-input').focus();
    } catch (err) {
      showError($('login-error'), err);
      $('login-password').select();
      $('login-password').focus();
    } finally {
      $('login-submit').disabled = false;
    }
  }

  async function onLogout() {
    try {
      await api('POST', '/v1/logout', { body: {} });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) {
        showError($('chat-error'), err);
        return;
      }
    }
    signedOut(null);
  }

  // ---- sessions ----------------------------------------------------------------

  async function refreshSessions() {
    try {
      const res = await api('GET', '/v1/sessions');
      state.sessions = Array.isArray(res.sessions) ? res.sessions : [];
    } catch (err) {
      if (err.status !== 401) showError($('chat-error'), err);
      return;
    }
    renderSessions();
  }

  function renderSessions() {
    const list = $('session-list');
    list.textContent = '';
    for (const s of state.sessions) {
      const li = el('li');
      const btn = el('button', 'session-item');
      btn.type = 'button';
      btn.dataset.id = s.id;
      if (s.id === state.sessionId) btn.setAttribute('aria-current', 'true');
      btn.append(el('span', 'session-title', s.title || 'Untitled chat'),
                 el('span', 'session-time', when(s.updated_ms)));
      btn.addEventListener('click', () => openSession(s.id));
      li.append(btn);
      list.append(li);
    }
    show($('session-empty'), state.sessions.length === 0);
  }

  function setTitle(title) {
    $('chat-title').textContent = title || 'New chat';
    document.title = (title ? title + ' · ' : '') + 'Hard-E';
  }

  function newChat() {
    abortTurn();
    state.sessionId = null;
    $('messages').textContent = '';
    showError($('chat-error'), null);
    show($('chat-empty'), true);
    setTitle(null);
    renderState(null);
    renderSessions();
    closeDrawers();
  }

  async function openSession(id) {
    abortTurn();
    closeDrawers();
    showError($('chat-error'), null);
    let s;
    try {
      s = await api('GET', '/v1/sessions/' + encodeURIComponent(id));
    } catch (err) {
      if (err.status !== 401) showError($('chat-error'), err);
      return;
    }
    state.sessionId = s.id || id;
    $('messages').textContent = '';
    const history = Array.isArray(s.messages) ? s.messages : [];
    for (const m of history) {
      if (m.role === 'user') addUserMessage(m.content);
      else if (m.role === 'assistant' && typeof m.content === 'string' && m.content) {
        const msg = addAssistantMessage(m.agent);
        msg.text = m.content;
        renderAnswer(msg);
        finishMessage(msg, 'done');
      }
    }
    show($('chat-empty'), history.length === 0);
    setTitle(s.title);
    renderState(s.state);
    renderSessions();
    $('composer-input').focus();
  }

  async function ensureSession(firstText) {
    if (state.sessionId) return state.sessionId;
    const title = firstText.replace(/\s+/g, ' ').trim().slice(0, 60);
    const s = await api('POST', '/v1/sessions', { body: { title } });
    state.sessionId = s.id;
    setTitle(s.title || title);
    state.sessions.unshift(s);
    renderSessions();
    return s.id;
  }

  // ---- messages ----------------------------------------------------------------

  /* The conversation follows a growing answer only while the rep is
   * already at the bottom, so scrolling up to read is never undone. */
  function nearBottom() {
    const doc = document.documentElement;
    return window.innerHeight + window.scrollY >= doc.scrollHeight - 120;
  }

  function scrollToEnd() {
    window.scrollTo(0, document.documentElement.scrollHeight);
  }

  function addUserMessage(text) {
    const article = el('article', 'msg msg-user');
    article.append(el('div', 'msg-who', 'You'), el('div', 'msg-body msg-plain', text));
    $('messages').append(article);
    show($('chat-empty'), false);
    return article;
  }

  /* A new assistant message in the log: returns {node, who, tools, body,
   * extra, text} (borrowed DOM nodes). */
  function addAssistantMessage(agent) {
    const node = el('article', 'msg msg-bot');
    node.dataset.state = 'streaming';
    node.setAttribute('aria-busy', 'true');
    const head = el('div', 'msg-who');
    const who = el('span', 'msg-agent', agent || 'Hard-E');
    head.append(el('span', 'msg-avatar', 'H'), who);
    const tools = el('ul', 'msg-tools');
    tools.setAttribute('aria-label', 'Tool activity');
    show(tools, false);
    const activity = el('p', 'msg-activity');
    activity.setAttribute('role', 'status');
    show(activity, false);
    const body = el('div', 'msg-body answer');
    const extra = el('div', 'msg-extra');
    node.append(head, tools, activity, body, extra);
    $('messages').append(node);
    show($('chat-empty'), false);
    return { node, who, tools, activity, body, extra, text: '', toolItems: new Map() };
  }

  function renderAnswer(msg) {
    msg.body.innerHTML = renderMarkdown(msg.text);
  }

  function setActivity(msg, text) {
    msg.activity.textContent = '';
    if (text) {
      msg.activity.append(el('span', 'spinner'), el('span', null, text));
    }
    show(msg.activity, !!text);
  }

  function finishMessage(msg, how, note) {
    msg.node.dataset.state = how;
    msg.node.setAttribute('aria-busy', 'false');
    setActivity(msg, null);
    if (note) {
      const p = el('p', how === 'error' ? 'msg-note msg-note-error' : 'msg-note', note);
      if (how === 'error') p.setAttribute('role', 'alert');
      msg.extra.append(p);
    }
  }

  // ---- a streamed turn ---------------------------------------------------------

  function setBusy(busy) {
    show($('send'), !busy);
    show($('stop'), busy);
    $('send').disabled = busy;
    $('composer-input').setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  function abortTurn() {
    if (state.turn) {
      state.turn.stopped = true;
      state.turn.controller.abort();
    }
  }

  async function sendMessage(text) {
    text = text.trim();
    if (!text || state.turn) return;
    showError($('chat-error'), null);
    const input = $('composer-input');
    input.value = '';
    autoGrow();
    addUserMessage(text);
    const msg = addAssistantMessage(null);
    const turn = { controller: new AbortController(), msg, stopped: false };
    state.turn = turn;
    setBusy(true);
    scrollToEnd();
    try {
      const id = await ensureSession(text);
      const resp = await api('POST', '/v1/sessions/' + encodeURIComponent(id) + '/messages', {
        body: { text }, accept: 'text/event-stream', signal: turn.controller.signal, raw: true,
      });
      const type = resp.headers.get('Content-Type') || '';
      if (type.includes('text/event-stream')) {
        await readStream(resp, msg);
      } else {
        onFinal(msg, await resp.json());
      }
      if (msg.node.dataset.state === 'streaming')
        finishMessage(msg, 'error', 'The answer was cut off before it finished. Please ask again.');
    } catch (err) {
      if (turn.stopped || (err && err.name === 'AbortError')) {
        finishMessage(msg, 'stopped', 'Stopped.');
      } else {
        finishMessage(msg, 'error', errorText(err));
        if (err instanceof ApiError && err.details.length) showError($('chat-error'), err);
      }
    } finally {
      if (state.turn === turn) state.turn = null;
      setBusy(false);
      if (state.user) {
        refreshSessions();
        if (document.activeElement === document.body || document.activeElement === $('stop'))
          input.focus();
      }
    }
  }

  /* Reads the SSE body to its end, handling each event as it completes. */
  async function readStream(resp, msg) {
    const reader = resp.body.getReader();
    const decoder = new TextDecoder('utf-8');
    const parser = new SseParser();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        const events = done ? parser.push(decoder.decode()).concat(parser.end())
                            : parser.push(decoder.decode(value, { stream: true }));
        for (const ev of events) {
          onEvent(msg, ev);
          // Let the page (and anyone observing it) see each step of the answer.
          await null;
        }
        if (done) break;
      }
    } finally {
      reader.releaseLock();
    }
  }

  function parseData(ev) {
    try {
      const data = JSON.parse(ev.data);
      return data && typeof data === 'object' ? data : {};
    } catch (_) {
      return {};
    }
  }

  function onEvent(msg, ev) {
    const data = parseData(ev);
    const follow = nearBottom();
    applyEvent(msg, ev.event, data);
    if (follow) scrollToEnd();
  }

  function applyEvent(msg, event, data) {
    switch (event) {
      case 'agent':
        if (typeof data.agent === 'string' && data.agent) msg.who.textContent = data.agent;
        break;
      case 'handoff':
        if (typeof data.to === 'string') setActivity(msg, 'handing over to ' + data.to + '…');
        break;
      case 'delta':
        if (typeof data.text === 'string' && data.text) {
          if (msg.activity.hidden === false && !msg.runningTools) setActivity(msg, null);
          msg.text += data.text;
          renderAnswer(msg);
        }
        break;
      case 'tool_started':
        onToolStarted(msg, data);
        break;
      case 'tool_finished':
        onToolFinished(msg, data);
        break;
      case 'final':
        onFinal(msg, data);
        break;
      case 'error':
        finishMessage(msg, 'error', typeof data.message === 'string' && data.message
          ? data.message : 'Hard-E could not finish this answer.');
        break;
      default:
        break; // unknown events are for newer pages
    }
  }

  function onToolStarted(msg, data) {
    const activity = typeof data.activity === 'string' && data.activity
      ? data.activity : 'running ' + (data.tool || 'a tool');
    const li = el('li', 'tool tool-running', activity);
    msg.tools.append(li);
    show(msg.tools, true);
    const key = data.tool || activity;
    const queue = msg.toolItems.get(key) || [];
    queue.push(li);
    msg.toolItems.set(key, queue);
    msg.runningTools = (msg.runningTools || 0) + 1;
    setActivity(msg, activity + '…');
  }

  function onToolFinished(msg, data) {
    const queue = msg.toolItems.get(data.tool) || [];
    const li = queue.shift();
    if (li) {
      li.className = 'tool ' + (data.is_error ? 'tool-error' : 'tool-done');
      if (data.is_error) li.append(el('span', 'visually-hidden', ' (failed)'));
    }
    msg.runningTools = Math.max(0, (msg.runningTools || 1) - 1);
    if (!msg.runningTools) setActivity(msg, null);
  }

  function onFinal(msg, data) {
    const text = typeof data.text === 'string' ? data.text
      : typeof data.final === 'string' ? data.final : null;
    if (text !== null && text !== msg.text) {
      msg.text = text;
      renderAnswer(msg);
    }
    if (typeof data.agent === 'string' && data.agent) msg.who.textContent = data.agent;
    if (data.quote && typeof data.quote === 'object') msg.extra.append(renderQuote(data.quote));
    if ('state' in data) renderState(data.state);
    finishMessage(msg, 'done');
  }

  // ---- quotes ------------------------------------------------------------------

  const TIER_NAMES = { good: 'Good', better: 'Better', best: 'Best' };

  function financingList(plans, currency) {
    const ul = el('ul', 'financing');
    for (const f of Array.isArray(plans) ? plans : []) {
      const li = el('li');
      li.append(el('strong', 'monthly', money(f.monthly, currency) + '/mo'),
                el('span', null, ' × ' + f.months + ' months' +
                   (typeof f.apr === 'number' ? ' · ' + percent(f.apr) + ' APR' : '')));
      li.title = f.name || '';
      const name = el('span', 'plan-name', f.name || '');
      li.append(name);
      ul.append(li);
    }
    return ul;
  }

  function cell(tag, className, text) {
    const c = el(tag, className, text);
    if (tag === 'th' && className && className.includes('row')) c.scope = 'row';
    return c;
  }

  /* The quote as a table and Good/Better/Best cards: a new <section>. */
  function renderQuote(q) {
    const cur = q.currency;
    const section = el('section', 'quote');
    section.setAttribute('aria-label', 'Quote');
    const table = el('table', 'quote-table');
    table.append(el('caption', null, 'Quote' + (cur ? ' (' + cur + ')' : '')));
    const thead = el('thead');
    const hr = el('tr');
    for (const [label, cls] of [['Item', ''], ['Qty', 'num detail'], ['Unit price', 'num detail'],
                                ['Amount', 'num']]) {
      const th = el('th', cls, label);
      th.scope = 'col';
      hr.append(th);
    }
    thead.append(hr);
    const tbody = el('tbody');
    for (const line of Array.isArray(q.lines) ? q.lines : []) {
      const tr = el('tr');
      const item = cell('th', 'row item');
      item.append(el('span', 'item-label', line.label || line.id || ''));
      const detail = number(line.qty, 2) + ' ' + (line.unit || '') + ' × ' + money(line.unit_price, cur);
      item.append(el('span', 'item-detail', detail));
      tr.append(item,
                cell('td', 'num detail', number(line.qty, 2) + ' ' + (line.unit || '')),
                cell('td', 'num detail', money(line.unit_price, cur)),
                cell('td', 'num amount', money(line.amount, cur)));
      tbody.append(tr);
    }
    const tfoot = el('tfoot');
    const sums = [
      ['Subtotal', q.subtotal, 'subtotal-row'],
      ['Tax' + (typeof q.tax_rate === 'number' ? ' (' + percent(q.tax_rate) + ')' : ''), q.tax, 'tax-row'],
      ['Total', q.total, 'total-row'],
    ];
    for (const [label, value, cls] of sums) {
      // The spacer spans Item and Qty (and disappears on a phone, where
      // the detail columns do), so the label always sits beside the amount.
      const tr = el('tr', cls);
      const spacer = cell('td', 'detail spacer');
      spacer.colSpan = 2;
      tr.append(spacer, cell('th', 'row sum-label', label), cell('td', 'num amount', money(value, cur)));
      tfoot.append(tr);
    }
    table.append(thead, tbody, tfoot);
    const wrap = el('div', 'table-wrap');
    wrap.append(table);
    section.append(wrap);

    if (Array.isArray(q.financing) && q.financing.length) {
      const fin = el('div', 'quote-financing');
      fin.append(el('h3', null, 'Financing'), financingList(q.financing, cur));
      section.append(fin);
    }

    const options = Array.isArray(q.options) ? q.options : [];
    if (options.length) {
      const h = el('h3', null, 'Good · Better · Best');
      const cards = el('ul', 'options');
      for (const o of options) {
        const li = el('li', 'option-card tier-' + String(o.tier || '').replace(/[^a-z]/g, ''));
        if (o.selected) li.classList.add('selected');
        const tier = TIER_NAMES[o.tier] || o.tier || '';
        const top = el('div', 'option-top');
        top.append(el('span', 'option-tier', tier));
        if (o.selected) top.append(el('span', 'badge', 'As quoted'));
        li.append(top, el('div', 'option-label', o.label || o.material || ''),
                  el('div', 'option-total', money(o.total, cur)),
                  financingList(o.financing, cur));
        li.setAttribute('aria-label', tier + ': ' + (o.label || '') + ', ' + money(o.total, cur) +
                        (o.selected ? ', as quoted' : ''));
        cards.append(li);
      }
      section.append(h, cards);
    }
    return section;
  }

  // ---- workflow state -----------------------------------------------------------

  function renderState(st) {
    const body = $('state-body');
    body.textContent = '';
    if (!st || typeof st !== 'object') {
      body.append(el('p', 'muted small',
        'Nothing in progress. When Hard-E collects details — a new client, a video script — ' +
        'they show up here.'));
      return;
    }
    body.append(el('h3', 'state-title', st.title || st.kind || 'Workflow'));
    const fields = Array.isArray(st.fields) ? st.fields : [];
    const filled = fields.filter((f) => f.filled).length;
    const progress = el('p', 'state-progress small', filled + ' of ' + fields.length + ' filled');
    body.append(progress);
    const list = el('ul', 'state-fields');
    for (const f of fields) {
      const li = el('li', 'field ' + (f.filled ? 'field-filled' : 'field-missing'));
      const mark = el('span', 'field-mark', f.filled ? '✓' : '○');
      mark.setAttribute('aria-hidden', 'true');
      const label = el('span', 'field-label', f.label || f.name);
      const value = el('span', 'field-value',
        f.filled ? (f.value === undefined || f.value === null ? 'filled' : String(f.value))
                 : (f.required ? 'missing' : 'optional'));
      li.append(mark, label, value);
      list.append(li);
    }
    body.append(list);
    const missing = Array.isArray(st.missing) ? st.missing : [];
    if (missing.length) {
      const p = el('p', 'state-missing small');
      p.append(el('strong', null, 'Still needed: '), document.createTextNode(missing.join(', ')));
      body.append(p);
    }
  }

  // ---- jobs ----------------------------------------------------------------------

  async function loadJobs() {
    const body = $('jobs-body');
    showError($('jobs-error'), null);
    body.setAttribute('aria-busy', 'true');
    let runs = [];
    try {
      const res = await api('GET', '/v1/runs');
      runs = Array.isArray(res) ? res : Array.isArray(res.runs) ? res.runs : [];
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) {
        if (err.status !== 401) showError($('jobs-error'), err);
      }
      runs = [];
    }
    body.textContent = '';
    body.setAttribute('aria-busy', 'false');
    if (!runs.length) {
      const empty = el('div', 'empty-state');
      empty.append(el('h2', null, 'No jobs yet'),
                   el('p', 'muted', 'When a primer video is requested for a job, its run and ' +
                      'each step show up here.'));
      body.append(empty);
      return;
    }
    const list = el('ul', 'runs');
    for (const r of runs) list.append(renderRun(r));
    body.append(list);
  }

  function renderRun(r) {
    const li = el('li', 'run-card');
    const status = String(r.status || r.state || 'unknown');
    const head = el('div', 'run-head');
    head.append(el('span', 'run-title', r.title || r.name || r.job_id || r.job || r.id || 'Run'),
                el('span', 'status status-' + status.replace(/[^a-z_]/gi, '').toLowerCase(), status));
    li.append(head);
    const meta = [r.id ? 'Run ' + r.id : '', when(r.updated_ms || r.created_ms)].filter(Boolean);
    if (meta.length) li.append(el('p', 'muted small', meta.join(' · ')));
    const steps = Array.isArray(r.steps) ? r.steps : [];
    if (steps.length) {
      const ol = el('ol', 'run-steps');
      for (const s of steps) {
        const st = String(s.status || s.state || '');
        const step = el('li', 'run-step status-' + st.replace(/[^a-z_]/gi, '').toLowerCase());
        step.append(el('span', null, s.label || s.name || ''), el('span', 'muted small', st));
        ol.append(step);
      }
      li.append(ol);
    }
    return li;
  }

  // ---- layout: drawers on a phone -------------------------------------------------

  function toggleDrawer(button, panel) {
    const open = button.getAttribute('aria-expanded') !== 'true';
    closeDrawers();
    button.setAttribute('aria-expanded', String(open));
    panel.classList.toggle('open', open);
    if (open) {
      const focusable = panel.querySelector('button, [href], input, [tabindex]');
      if (focusable) focusable.focus();
    }
  }

  const DRAWERS = [['sessions-toggle', 'sessions-panel'], ['state-toggle', 'state-panel']];

  /* Closes any open drawer; focus inside it goes back to its toggle. */
  function closeDrawers() {
    for (const [b, p] of DRAWERS) {
      const panel = $(p);
      const hadFocus = panel.classList.contains('open') && panel.contains(document.activeElement);
      $(b).setAttribute('aria-expanded', 'false');
      panel.classList.remove('open');
      if (hadFocus) $(b).focus();
    }
  }

  /* A tap outside an open drawer (and outside its toggle) closes it. */
  function onDocumentClick(e) {
    for (const [b, p] of DRAWERS) {
      if ($(p).classList.contains('open') && !$(p).contains(e.target) && !$(b).contains(e.target))
        closeDrawers();
    }
  }

  function autoGrow() {
    const input = $('composer-input');
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 200) + 'px';
  }

  // ---- start ------------------------------------------------------------------------

  function wire() {
    $('login-form').addEventListener('submit', onLogin);
    $('logout').addEventListener('click', onLogout);
    $('new-session').addEventListener('click', () => { newChat(); $('composer-input').focus(); });
    $('tab-chat').addEventListener('click', () => setView('chat'));
    $('tab-jobs').addEventListener('click', () => setView('jobs'));
    $('jobs-refresh').addEventListener('click', loadJobs);
    $('sessions-toggle').addEventListener('click',
      () => toggleDrawer($('sessions-toggle'), $('sessions-panel')));
    $('state-toggle').addEventListener('click',
      () => toggleDrawer($('state-toggle'), $('state-panel')));
    $('composer').addEventListener('submit', (e) => {
      e.preventDefault();
      sendMessage($('composer-input').value);
    });
    $('composer-input').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        sendMessage($('composer-input').value);
      }
    });
    $('composer-input').addEventListener('input', autoGrow);
    $('stop').addEventListener('click', abortTurn);
    document.addEventListener('click', onDocumentClick);
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        if (state.turn) abortTurn();
        else closeDrawers();
      }
    });
    for (const b of document.querySelectorAll('.suggestion'))
      b.addEventListener('click', () => sendMessage(b.textContent));
  }

  async function start() {
    wire();
    state.csrf = loadCsrf();
    try {
      const me = await api('GET', '/v1/me', { quiet401: true });
      if (typeof me.csrf_token === 'string') saveCsrf(me.csrf_token);
      if (state.csrf) { signedIn(me); return; }
    } catch (_) { /* not signed in */ }
    signedOut(null);
  }

  // For tests and the console: the pure parts of the page.
  window.HardE = Object.freeze({ renderMarkdown, SseParser, version: 1 });

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();

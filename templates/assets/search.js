/* kbpub search. search-index.js (window.KBPUB_SEARCH) is loaded on first use by a <script> element,
   which works from file:// too. Index text is untrusted: textContent only. */
(function () {
  'use strict';
  var d = document, input = d.getElementById('kb-search-input');
  /* The results panel is made here, not repeated in every page: search needs JavaScript anyway. */
  if (input && input.form && !d.getElementById('kb-search-panel')) {
    input.form.insertAdjacentHTML('beforeend', '<div class="search-panel" id="kb-search-panel" hidden>' +
      '<p class="search-status" id="kb-search-status" role="status" aria-live="polite"></p>' +
      '<ul class="search-results" id="kb-search-results" role="listbox" aria-label="Search results"></ul></div>');
  }
  var panel = d.getElementById('kb-search-panel');
  var list = d.getElementById('kb-search-results'), status = d.getElementById('kb-search-status');
  if (!input || !panel || !list || !status) return;
  var form = input.form, root = input.getAttribute('data-root') || '', src = input.getAttribute('data-index');
  var MAX = 10, SNIP = 170, docs = null, state = 0; /* 0 idle, 1 loading, 2 ready, 3 failed */
  var results = [], active = -1, timer = 0, last = null;
  var NONWORD = /[^0-9a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+/g;
  try { NONWORD = new RegExp('[^\\p{L}\\p{N}]+', 'gu'); } catch (e) { /* older engine */ }

  function norm(s) { return (' ' + (s || '') + ' ').toLowerCase().replace(NONWORD, ' '); } /* flat string */
  function on(el, ev, fn) { el.addEventListener(ev, fn); }
  function say(msg) { status.textContent = msg; }
  function open() { panel.hidden = false; input.setAttribute('aria-expanded', 'true'); }
  function close() { panel.hidden = true; input.setAttribute('aria-expanded', 'false'); input.removeAttribute('aria-activedescendant'); }

  /* Fields as ' lowercase words ', once, in slices (typing stays responsive). w: words past the excerpt. */
  function prepare() {
    var raw = (window.KBPUB_SEARCH && window.KBPUB_SEARCH.docs) || [], out = [], i = 0;
    state = 1;
    (function slice() {
      for (var end = Math.min(raw.length, i + 1500); i < end; i++) {
        var r = raw[i] || {};
        var o = { r: r, t: norm(r.t), h: norm((r.h || []).join(' ')), x: norm(r.x), w: norm(r.w) };
        o.x.indexOf('\u0001'); o.w.indexOf('\u0001'); /* first scans are slow: do them now */
        out.push(o);
      }
      if (i < raw.length) return setTimeout(slice, 0);
      docs = out;
      state = 2;
      last = null;
      search();
    })();
  }

  function load() {
    if (state) return;
    if (window.KBPUB_SEARCH) return prepare();
    if (!src) { state = 3; return; }
    state = 1;
    var s = d.createElement('script');
    s.src = src;
    s.onload = prepare;
    s.onerror = function () { state = 3; say('The search index could not be loaded.'); open(); };
    d.head.appendChild(s);
  }

  /* 2: whole word, 1: word prefix, 0: no match. */
  function match(field, tok) {
    return field.indexOf(' ' + tok) < 0 ? 0 : field.indexOf(' ' + tok + ' ') < 0 ? 1 : 2;
  }

  /* Title beats headings beats text; every query word must match somewhere. */
  function score(doc, toks, phrase) {
    var total = 0;
    for (var i = 0; i < toks.length; i++) {
      var s = match(doc.t, toks[i]) * 15 + match(doc.h, toks[i]) * 4 + (match(doc.x, toks[i]) * 2 || match(doc.w, toks[i]));
      if (!s) return 0;
      total += s;
    }
    if (toks.length > 1 && doc.t.indexOf(phrase) >= 0) total += 40;
    if (doc.t.indexOf(' ' + toks[0]) === 0) total += 5;
    return total - doc.t.length / 1000;
  }

  function search() {
    var q = input.value.trim();
    if (q === last) return;
    last = q;
    list.textContent = '';
    active = -1;
    input.removeAttribute('aria-activedescendant');
    if (q.length < 2) { say(''); return close(); }
    load();
    if (state === 1) { say('Loading the search index…'); open(); }
    if (state !== 2) return;
    var toks = norm(q).split(' ').filter(function (t, i, a) { return t && a.indexOf(t) === i; });
    var phrase = ' ' + toks.join(' '), hits = [];
    for (var i = 0; i < docs.length && toks.length; i++) {
      var s = score(docs[i], toks, phrase);
      if (s > 0) hits.push({ s: s, i: i });
    }
    hits.sort(function (a, b) { return b.s - a.s || a.i - b.i; });
    results = hits.slice(0, MAX).map(function (h) { return docs[h.i].r; });
    say(!hits.length ? 'No results for “' + q + '”.' : hits.length > MAX ? 'Top ' + MAX + ' of ' + hits.length + ' results' : hits.length + (hits.length === 1 ? ' result' : ' results'));
    results.forEach(function (r, i) { list.appendChild(item(r, i, toks)); });
    open();
  }

  /* [start, end) of each word in `text` that starts with a query word, merged. */
  function ranges(text, toks) {
    var lower = text.toLowerCase(), out = [], merged = [];
    if (lower.length !== text.length) return out; /* case mapping moved offsets */
    toks.forEach(function (tok) {
      for (var at = lower.indexOf(tok); at >= 0 && out.length < 60; at = lower.indexOf(tok, at + tok.length)) {
        if (!at || !lower.charAt(at - 1).replace(NONWORD, '')) out.push([at, at + tok.length]);
      }
    });
    out.sort(function (a, b) { return a[0] - b[0]; }).forEach(function (r) {
      var m = merged[merged.length - 1];
      if (m && r[0] <= m[1]) m[1] = Math.max(m[1], r[1]); else merged.push(r);
    });
    return merged;
  }

  function highlight(el, text, toks) {
    var pos = 0;
    ranges(text, toks).forEach(function (r) {
      el.appendChild(d.createTextNode(text.slice(pos, r[0])));
      el.appendChild(d.createElement('mark')).textContent = text.slice(r[0], r[1]);
      pos = r[1];
    });
    el.appendChild(d.createTextNode(text.slice(pos)));
    return el;
  }

  /* Text around the first match, else a matching heading, else the excerpt's start. */
  function snippet(r, toks) {
    var x = String(r.x || ''), rs = ranges(x, toks), hs = r.h || [];
    if (!rs.length) {
      for (var i = 0; i < hs.length; i++) if (ranges(String(hs[i]), toks).length) return '§ ' + hs[i];
      return x.length > SNIP ? x.slice(0, SNIP).replace(/\s+\S*$/, '') + ' …' : x;
    }
    var start = Math.max(0, rs[0][0] - 50), end;
    if (start) { var sp = x.indexOf(' ', start); if (sp >= 0 && sp < rs[0][0]) start = sp + 1; }
    end = Math.min(x.length, start + SNIP);
    if (end < x.length) { var e = x.lastIndexOf(' ', end); if (e > rs[0][1]) end = e; }
    return (start ? '… ' : '') + x.slice(start, end) + (end < x.length ? ' …' : '');
  }

  function span(cls) { var s = d.createElement('span'); s.className = cls; return s; }

  function item(r, i, toks) {
    var li = d.createElement('li'), a = li.appendChild(d.createElement('a'));
    li.id = 'kb-sr-' + i;
    li.setAttribute('role', 'option');
    li.setAttribute('aria-selected', 'false');
    a.href = root + String(r.u || '');
    a.tabIndex = -1;
    a.appendChild(highlight(span('sr-title'), String(r.t || ''), toks));
    if (r.o) a.appendChild(span('sr-obsolete')).textContent = 'Obsolete';
    if (r.s) a.appendChild(span('sr-section')).textContent = String(r.s);
    a.appendChild(highlight(span('sr-snippet'), snippet(r, toks), toks));
    on(li, 'mousemove', function () { if (active !== i) select(i, false); });
    return li;
  }

  function select(i, scroll) {
    var items = list.children;
    if (!items.length) return;
    if (items[active]) items[active].setAttribute('aria-selected', 'false');
    active = (i + items.length) % items.length;
    items[active].setAttribute('aria-selected', 'true');
    input.setAttribute('aria-activedescendant', items[active].id);
    if (scroll !== false) items[active].scrollIntoView({ block: 'nearest' });
  }

  on(input, 'focus', function () { load(); if (input.value.trim().length > 1 && status.textContent) open(); });
  on(input, 'input', function () { clearTimeout(timer); timer = setTimeout(search, docs && docs.length > 3000 ? 90 : 30); });
  on(input, 'keydown', function (e) {
    var k = e.key;
    if (k === 'ArrowDown' || k === 'ArrowUp') {
      e.preventDefault();
      if (panel.hidden) { last = null; search(); }
      select(active + (k === 'ArrowDown' ? 1 : -1));
    } else if (k === 'Enter') {
      e.preventDefault();
      clearTimeout(timer);
      search();
      var a = list.children[Math.max(active, 0)];
      if (a) window.location.href = a.firstChild.href;
    } else if (k === 'Escape') {
      if (!panel.hidden) { e.preventDefault(); close(); } else if (input.value) { input.value = ''; search(); } else input.blur();
    }
  });
  on(form, 'submit', function (e) { e.preventDefault(); });
  on(form, 'focusout', function () { setTimeout(function () { if (!form.contains(d.activeElement)) close(); }, 0); });
  on(d, 'pointerdown', function (e) { if (!panel.hidden && !form.contains(e.target)) close(); });
  on(d, 'keydown', function (e) {
    var t = e.target, editing = /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) || t.isContentEditable;
    if ((e.key === '/' && !editing) || ((e.ctrlKey || e.metaKey) && e.key === 'k')) {
      e.preventDefault();
      input.focus();
      input.select();
    }
  });

  /* ?q=words opens the search (shareable searches). */
  var m = /[?&]q=([^&#]*)/.exec(window.location.search);
  if (m) {
    try { input.value = decodeURIComponent(m[1].replace(/\+/g, ' ')); } catch (e) { /* malformed */ }
    input.focus();
    search();
  }
})();

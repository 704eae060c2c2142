/* kbpub search. search-index.js (window.KBPUB_SEARCH) is loaded on first use by a <script> element,
   which works from file:// too. Index text is untrusted: textContent only.
   Matching: a query word matches a page's word with the same English stem (best), a word it begins
   (prefix), or, from 5 letters, a word one edit away (typo). Fields rank title > headings > text;
   a match in a heading links to that heading. The index carries the text's stems (made at build
   time with the same algorithm) together with their words; titles, headings and excerpts are
   stemmed here, once. */
(function () {
  'use strict';
  var d = document, box = d.querySelector('form.search[data-index]');
  /* The search box and its results panel are made here, not repeated in every page: search
     needs JavaScript anyway. The form names the site's root and the index. */
  if (box && !d.getElementById('kb-search-input')) {
    box.insertAdjacentHTML('beforeend', '<label class="sr-only" for="kb-search-input">Search the knowledge base</label>' +
      '<span class="search-icon" aria-hidden="true"></span>' +
      '<input id="kb-search-input" class="search-input" type="search" placeholder="Search" spellcheck="false" enterkeyhint="go"' +
      ' role="combobox" aria-expanded="false" aria-controls="kb-search-results" aria-autocomplete="list">' +
      '<kbd class="search-key" aria-hidden="true">/</kbd>');
  }
  var input = d.getElementById('kb-search-input');
  if (input && input.form && !d.getElementById('kb-search-panel')) {
    input.form.insertAdjacentHTML('beforeend', '<div class="search-panel" id="kb-search-panel" hidden>' +
      '<p class="search-status" id="kb-search-status" role="status" aria-live="polite"></p>' +
      '<ul class="search-results" id="kb-search-results" role="listbox" aria-label="Search results"></ul></div>');
  }
  var panel = d.getElementById('kb-search-panel');
  var list = d.getElementById('kb-search-results'), status = d.getElementById('kb-search-status');
  if (!input || !panel || !list || !status) return;
  var form = input.form, root = form.getAttribute('data-root') || '', src = form.getAttribute('data-index');
  var MAX = 10, SNIP = 170, docs = null, state = 0; /* 0 idle, 1 loading, 2 ready, 3 failed */
  var FIELDS = [10, 4, 1], KIND = [1, 0.6, 0.4]; /* title, headings, text; stem, prefix, typo */
  var vocab = new Map(), posts = new Map(), known = new Set(); /* word -> stem; stem -> [docs per field]; `w` items read */
  var results = [], active = -1, timer = 0, last = null;
  var NONWORD = /[^0-9a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+/g, WORD = /[0-9a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+/gi;
  try { NONWORD = new RegExp('[^\\p{L}\\p{N}]+', 'gu'); WORD = new RegExp('[\\p{L}\\p{N}]+', 'gu'); } catch (e) { /* older engine */ }

  /* English (Porter2 / Snowball) stemmer, the algorithm the index's stems come from
     (rust-stemmers); tests compare the two word for word. */
  var stem = (function () {
    var EX1 = { skis: 'ski', skies: 'sky', dying: 'die', lying: 'lie', tying: 'tie', idly: 'idl', gently: 'gentl', ugly: 'ugli',
      early: 'earli', only: 'onli', singly: 'singl', sky: 'sky', news: 'news', howe: 'howe', atlas: 'atlas', cosmos: 'cosmos', bias: 'bias', andes: 'andes' };
    var EX2 = { inning: 1, outing: 1, canning: 1, herring: 1, earring: 1, proceed: 1, exceed: 1, succeed: 1 };
    var S2 = [['ization', 'ize'], ['ational', 'ate'], ['fulness', 'ful'], ['ousness', 'ous'], ['iveness', 'ive'], ['tional', 'tion'],
      ['biliti', 'ble'], ['lessli', 'less'], ['entli', 'ent'], ['ation', 'ate'], ['alism', 'al'], ['aliti', 'al'], ['ousli', 'ous'],
      ['iviti', 'ive'], ['fulli', 'ful'], ['enci', 'ence'], ['anci', 'ance'], ['abli', 'able'], ['izer', 'ize'], ['ator', 'ate'],
      ['alli', 'al'], ['bli', 'ble'], ['ogi', 'og'], ['li', '']];
    var S3 = [['ational', 'ate'], ['tional', 'tion'], ['alize', 'al'], ['icate', 'ic'], ['iciti', 'ic'], ['ative', ''], ['ical', 'ic'],
      ['ness', ''], ['ful', '']];
    var S4 = ['ement', 'ance', 'ence', 'able', 'ible', 'ment', 'ant', 'ent', 'ism', 'ate', 'iti', 'ous', 'ive', 'ize', 'ion', 'al', 'er', 'ic'];
    function v(c) { return c === 'a' || c === 'e' || c === 'i' || c === 'o' || c === 'u' || c === 'y'; }
    function ends(w, s) { return w.length >= s.length && w.slice(w.length - s.length) === s; }
    /* Index just past the first non-vowel that follows a vowel, from `from`. */
    function region(w, from) {
      for (var i = from + 1; i < w.length; i++) if (!v(w[i]) && v(w[i - 1])) return i + 1;
      return w.length;
    }
    /* Ends in a short syllable at `end`: non-vowel (not w, x, Y), vowel, non-vowel; or vowel, non-vowel at the start. */
    function shortv(w, end) {
      var a = w[end - 3], b = w[end - 2], c = w[end - 1];
      if (end === 2) return v(b) && !v(c);
      return end > 2 && !v(a) && v(b) && !v(c) && c !== 'w' && c !== 'x' && c !== 'Y';
    }
    return function (word) {
      if (word.length <= 2) return word;
      if (EX1.hasOwnProperty(word)) return EX1[word];
      var w = word.replace(/^y/, 'Y').replace(/([aeiouy])y/g, '$1Y'), p1, p2, i, s;
      var pre = /^(gener|commun|arsen)/.exec(w);
      p1 = pre ? pre[0].length : region(w, 0);
      p2 = region(w, p1);
      /* Step 1a */
      if (ends(w, 'sses')) w = w.slice(0, -2);
      else if (ends(w, 'ied') || ends(w, 'ies')) w = w.slice(0, -3) + (w.length > 4 ? 'i' : 'ie');
      else if (ends(w, 'us') || ends(w, 'ss')) { /* unchanged */ }
      else if (ends(w, 's') && /[aeiouy]/.test(w.slice(0, -2))) w = w.slice(0, -1);
      if (EX2.hasOwnProperty(w)) return w;
      /* Step 1b */
      s = /(eedly|eed)$/.exec(w) || /(ingly|edly|ing|ed)$/.exec(w);
      if (s && (s[1] === 'eed' || s[1] === 'eedly')) {
        if (s.index >= p1) w = w.slice(0, s.index) + 'ee';
      } else if (s && /[aeiouy]/.test(w.slice(0, s.index))) {
        w = w.slice(0, s.index);
        if (ends(w, 'at') || ends(w, 'bl') || ends(w, 'iz')) w += 'e';
        else if (/(bb|dd|ff|gg|mm|nn|pp|rr|tt)$/.test(w)) w = w.slice(0, -1);
        else if (w.length === p1 && shortv(w, w.length)) w += 'e';
      }
      /* Step 1c */
      if (w.length > 2 && (ends(w, 'y') || ends(w, 'Y')) && !v(w[w.length - 2])) w = w.slice(0, -1) + 'i';
      /* Step 2 */
      for (i = 0; i < S2.length; i++) {
        if (!ends(w, S2[i][0])) continue;
        var at = w.length - S2[i][0].length;
        if (at >= p1 && (S2[i][0] === 'ogi' ? w[at - 1] === 'l' : S2[i][0] === 'li' ? /[cdeghkmnrt]/.test(w[at - 1] || '') : true)) w = w.slice(0, at) + S2[i][1];
        break;
      }
      /* Step 3 */
      for (i = 0; i < S3.length; i++) {
        if (!ends(w, S3[i][0])) continue;
        at = w.length - S3[i][0].length;
        if (at >= p1 && (S3[i][0] !== 'ative' || at >= p2)) w = w.slice(0, at) + S3[i][1];
        break;
      }
      /* Step 4 */
      for (i = 0; i < S4.length; i++) {
        if (!ends(w, S4[i])) continue;
        at = w.length - S4[i].length;
        if (at >= p2 && (S4[i] !== 'ion' || /[st]/.test(w[at - 1] || ''))) w = w.slice(0, at);
        break;
      }
      /* Step 5 */
      at = w.length - 1;
      if (w[at] === 'e' && (at >= p2 || (at >= p1 && !shortv(w, at)))) w = w.slice(0, at);
      else if (w[at] === 'l' && at >= p2 && w[at - 1] === 'l') w = w.slice(0, at);
      return w.replace(/Y/g, 'y');
    };
  })();

  /* The stem of a word of the pages; `vocab` doubles as the memo. Query words use stem(): they are not the pages' words. */
  function stemmed(word) { var s = vocab.get(word); if (s === undefined) vocab.set(word, s = stem(word)); return s; }
  function words(text) { return String(text || '').toLowerCase().split(NONWORD).filter(function (w) { return w.length > 1; }); }
  function on(el, ev, fn) { el.addEventListener(ev, fn); }
  function say(msg) { status.textContent = msg; }
  function open() { panel.hidden = false; input.setAttribute('aria-expanded', 'true'); }
  function close() { panel.hidden = true; input.setAttribute('aria-expanded', 'false'); input.removeAttribute('aria-activedescendant'); }

  /* Page `i` has stem `s` in field `f` (0 title, 1 headings, 2 text). */
  function post(s, f, i) {
    var p = posts.get(s);
    if (!p) posts.set(s, p = [[], [], []]);
    if (p[f][p[f].length - 1] !== i) p[f].push(i);
  }

  /* `w`: "stem" or "stem:ending,ending" ("=word" for a word that does not start with its stem). */
  function postPacked(packed, i) {
    packed.split(' ').forEach(function (item) {
      if (!item) return;
      var colon = item.indexOf(':'), s = colon < 0 ? item : item.slice(0, colon);
      post(s, 2, i);
      if (known.has(item)) return;
      known.add(item);
      (colon < 0 ? [''] : item.slice(colon + 1).split(',')).forEach(function (e) {
        var w = e.charAt(0) === '=' ? e.slice(1) : s + e;
        if (!vocab.has(w)) vocab.set(w, s);
      });
    });
  }

  /* Postings per stem, built once, in slices (typing stays responsive). */
  function prepare() {
    var raw = (window.KBPUB_SEARCH && window.KBPUB_SEARCH.docs) || [], i = 0;
    state = 1;
    (function slice() {
      for (var end = Math.min(raw.length, i + 500); i < end; i++) {
        var r = raw[i] || {}, f = [[r.t], (r.h || []).map(function (h) { return h[0]; }), [r.x]];
        for (var k = 0; k < 3; k++) f[k].forEach(function (text) { words(text).forEach(function (w) { post(stemmed(w), k, i); }); });
        postPacked(String(r.w || ''), i);
      }
      if (i < raw.length) return setTimeout(slice, 0);
      docs = raw;
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

  /* Edit distance from `q` to the closest prefix of `w`, or `max` + 1 when it is larger. */
  function prefixDistance(q, w, max) {
    var prev = [], cur, i, j, low;
    for (j = 0; j <= w.length; j++) prev.push(j);
    for (i = 1; i <= q.length; i++) {
      cur = [i];
      low = i;
      for (j = 1; j <= w.length; j++) {
        cur.push(Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (q.charCodeAt(i - 1) === w.charCodeAt(j - 1) ? 0 : 1)));
        if (cur[j] < low) low = cur[j];
      }
      if (low > max) return max + 1;
      prev = cur;
    }
    return Math.min.apply(Math, prev);
  }

  /* Stems a query word matches, each with its kind: 0 same stem, 1 prefix of a word, 2 one edit away. */
  function candidates(tok) {
    var found = new Map(), s = stem(tok);
    function add(st, kind) { if (!(found.get(st) <= kind) && posts.has(st)) found.set(st, kind); }
    add(s, 0);
    vocab.forEach(function (st, w) {
      if (w.lastIndexOf(tok, 0) === 0) add(st, 1);
      else if (tok.length >= 5 && w.length >= tok.length - 1 && prefixDistance(tok, w, 1) <= 1) add(st, 2);
    });
    return found;
  }

  /* How many query words (their candidate stems in `cands`) `text` has. */
  function hitsIn(text, cands) {
    var have = new Set(words(text).map(stemmed));
    return cands.filter(function (c) { for (var s of c.keys()) if (have.has(s)) return true; return false; }).length;
  }

  /* Title beats headings beats text, and a word's own stem beats a prefix beats a typo; every
     query word must match somewhere. */
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
    var toks = words(q).filter(function (t, i, a) { return a.indexOf(t) === i; });
    var cands = toks.map(candidates), total = new Float64Array(docs.length), count = new Uint16Array(docs.length), hits = [];
    cands.forEach(function (c) {
      var best = new Float64Array(docs.length);
      c.forEach(function (kind, st) {
        var p = posts.get(st);
        for (var f = 0; f < 3; f++) {
          var value = FIELDS[f] * KIND[kind];
          p[f].forEach(function (doc) { if (best[doc] < value) best[doc] = value; });
        }
      });
      best.forEach(function (value, doc) { if (value) { total[doc] += value; count[doc]++; } });
    });
    for (var i = 0; i < docs.length && toks.length; i++) {
      if (count[i] === toks.length) hits.push({ s: total[i] - String(docs[i].t || '').length / 1000, i: i });
    }
    hits.sort(function (a, b) { return b.s - a.s || a.i - b.i; });
    results = hits.slice(0, MAX).map(function (h) { return docs[h.i]; });
    say(!hits.length ? 'No results for “' + q + '”.' : hits.length > MAX ? 'Top ' + MAX + ' of ' + hits.length + ' results' : hits.length + (hits.length === 1 ? ' result' : ' results'));
    var stemsFound = new Set();
    cands.forEach(function (c) { c.forEach(function (kind, st) { stemsFound.add(st); }); });
    function matches(w) { return stemsFound.has(vocab.get(w) || stem(w)) || toks.some(function (t) { return w.lastIndexOf(t, 0) === 0; }); }
    results.forEach(function (r, i) { list.appendChild(item(r, i, cands, matches)); });
    open();
  }

  /* [start, end) of each word in `text` that `matches`. */
  function ranges(text, matches) {
    var out = [], re = new RegExp(WORD.source, WORD.flags), m;
    while ((m = re.exec(text)) && out.length < 60) if (matches(m[0].toLowerCase())) out.push([m.index, m.index + m[0].length]);
    return out;
  }

  function highlight(el, text, matches) {
    var pos = 0;
    ranges(text, matches).forEach(function (r) {
      el.appendChild(d.createTextNode(text.slice(pos, r[0])));
      el.appendChild(d.createElement('mark')).textContent = text.slice(r[0], r[1]);
      pos = r[1];
    });
    el.appendChild(d.createTextNode(text.slice(pos)));
    return el;
  }

  /* Text around the first match, else the excerpt's start. */
  function snippet(r, matches) {
    var x = String(r.x || ''), rs = ranges(x, matches);
    if (!rs.length) return x.length > SNIP ? x.slice(0, SNIP).replace(/\s+\S*$/, '') + ' …' : x;
    var start = Math.max(0, rs[0][0] - 50), end;
    if (start) { var sp = x.indexOf(' ', start); if (sp >= 0 && sp < rs[0][0]) start = sp + 1; }
    end = Math.min(x.length, start + SNIP);
    if (end < x.length) { var e = x.lastIndexOf(' ', end); if (e > rs[0][1]) end = e; }
    return (start ? '… ' : '') + x.slice(start, end) + (end < x.length ? ' …' : '');
  }

  /* The heading a result links to: the one with most query words, unless the title has them all. */
  function heading(r, cands) {
    var best = null, most = 0;
    if (hitsIn(r.t, cands) === cands.length) return null;
    (r.h || []).forEach(function (h) { var n = hitsIn(h[0], cands); if (n > most && h[1]) { most = n; best = h; } });
    return best;
  }

  function span(cls) { var s = d.createElement('span'); s.className = cls; return s; }

  function item(r, i, cands, matches) {
    var li = d.createElement('li'), a = li.appendChild(d.createElement('a')), h = heading(r, cands);
    li.id = 'kb-sr-' + i;
    li.setAttribute('role', 'option');
    li.setAttribute('aria-selected', 'false');
    a.href = root + String(r.u || '') + (h ? '#' + encodeURIComponent(String(h[1])) : '');
    a.tabIndex = -1;
    a.appendChild(highlight(span('sr-title'), String(r.t || ''), matches));
    if (r.o) a.appendChild(span('sr-obsolete')).textContent = 'Obsolete';
    if (r.s) a.appendChild(span('sr-section')).textContent = String(r.s);
    if (h) highlight(a.appendChild(span('sr-heading')), '§ ' + String(h[0]), matches);
    a.appendChild(highlight(span('sr-snippet'), snippet(r, matches), matches));
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

/* kbpub: theme toggle, nav drawer, heading links, TOC scrollspy, copy buttons, list filter, process maps. */
(function () {
  'use strict';
  var d = document, html = d.documentElement, w = window;
  function $(sel, ctx) { return (ctx || d).querySelector(sel); }
  function $$(sel, ctx) { return Array.prototype.slice.call((ctx || d).querySelectorAll(sel)); }
  function on(el, ev, fn, opt) { if (el) el.addEventListener(ev, fn, opt || false); }
  function mq(q) { var m = w.matchMedia(q); m.on = function (fn) { if (m.addEventListener) m.addEventListener('change', fn); else m.addListener(fn); }; return m; }
  var dark = mq('(prefers-color-scheme: dark)'), narrow = mq('(max-width: 860px)'), mid = mq('(max-width: 1100px)');

  /* The controls that only work with JavaScript are made here, not repeated in every page. */
  var header = $('.header-inner');
  function button(cls, label, extra) {
    var b = d.createElement('button');
    b.type = 'button';
    b.className = 'icon-btn ' + cls;
    b.setAttribute('aria-label', label);
    for (var k in extra) b.setAttribute(k, extra[k]);
    return b;
  }
  if (header) {
    header.insertBefore(button('nav-btn', 'Open navigation', { 'aria-controls': 'kb-sidebar', 'aria-expanded': 'false' }), header.firstChild);
    header.appendChild(button('theme-btn', 'Dark theme', { 'aria-pressed': 'false', title: 'Toggle dark theme' }));
  }
  var side = d.getElementById('kb-sidebar');
  if (side) side.insertAdjacentHTML('afterend', '<div class="backdrop" hidden></div>');
  /* A `#` link beside each heading of the text, shown on hover. */
  $$('.prose :is(h1,h2,h3,h4,h5,h6)[id]').forEach(function (h) {
    var a = d.createElement('a');
    a.className = 'anchor';
    a.href = '#' + h.id;
    a.setAttribute('aria-hidden', 'true');
    a.tabIndex = -1;
    a.textContent = '#';
    h.insertBefore(a, h.firstChild);
  });

  /* Theme: assets/theme.js, blocking in <head>, applies the stored choice before paint. */
  var themeBtn = $('.theme-btn');
  function isDark() { var t = html.getAttribute('data-theme'); return t ? t === 'dark' : dark.matches; }
  function syncTheme() { if (themeBtn) themeBtn.setAttribute('aria-pressed', String(isDark())); }
  on(themeBtn, 'click', function () {
    var t = isDark() ? 'light' : 'dark';
    html.setAttribute('data-theme', t);
    try { localStorage.setItem('kbpub-theme', t); } catch (e) { /* storage disabled */ }
    syncTheme();
  });
  dark.on(syncTheme);
  syncTheme();

  /* Sidebar: keep the current page in view; a drawer on small screens. */
  var sidebar = d.getElementById('kb-sidebar'), navBtn = $('.nav-btn'), backdrop = $('.backdrop');
  function reveal(el, box) {
    if (!el || box.scrollHeight <= box.clientHeight) return;
    var r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
    if (r.top < b.top || r.bottom > b.bottom) box.scrollTop += r.top - b.top - b.height / 3;
  }
  function setNav(open, refocus) {
    html.classList.toggle('nav-open', open);
    navBtn.setAttribute('aria-expanded', String(open));
    navBtn.setAttribute('aria-label', open ? 'Close navigation' : 'Open navigation');
    backdrop.hidden = !open;
    var cur = $('[aria-current="page"]', sidebar);
    if (open) { reveal(cur, sidebar); (cur || $('a', sidebar) || sidebar).focus({ preventScroll: true }); }
    else if (refocus) navBtn.focus();
  }
  if (sidebar && navBtn && backdrop) {
    on(navBtn, 'click', function () { setNav(!html.classList.contains('nav-open'), true); });
    on(backdrop, 'click', function () { setNav(false, true); });
    on(d, 'keydown', function (e) { if (e.key === 'Escape' && html.classList.contains('nav-open')) setNav(false, true); });
    narrow.on(function () { if (!narrow.matches) setNav(false); });
    reveal($('[aria-current="page"]', sidebar), sidebar);
  }

  /* On-page TOC: collapsed on narrow screens, open on wide ones; scrollspy. */
  var toc = $('.toc');
  if (toc) {
    if (mid.matches) toc.open = false;
    on($('summary', toc), 'click', function (e) { if (!mid.matches) e.preventDefault(); });
    mid.on(function () { if (!mid.matches) toc.open = true; });
    var targets = [], active = null, ticking = false;
    $$('a', toc).forEach(function (a) {
      var el = d.getElementById(a.getAttribute('href').slice(1));
      if (el) targets.push({ a: a, el: el });
    });
    var spy = function () {
      ticking = false;
      if (!targets.length) return;
      var top = (parseFloat(getComputedStyle(html).scrollPaddingTop) || 80) + 8, pick = targets[0], se = d.scrollingElement || html;
      for (var i = 0; i < targets.length && targets[i].el.getBoundingClientRect().top <= top; i++) pick = targets[i];
      if (se.scrollTop > 0 && se.scrollTop + w.innerHeight >= se.scrollHeight - 2) {
        /* At the bottom: the last heading on screen. */
        for (var j = targets.length - 1; j >= 0; j--) if (targets[j].el.getBoundingClientRect().top < w.innerHeight) { pick = targets[j]; break; }
      }
      if (pick === active) return;
      if (active) { active.a.classList.remove('is-active'); active.a.removeAttribute('aria-current'); }
      active = pick;
      pick.a.classList.add('is-active');
      pick.a.setAttribute('aria-current', 'location');
      reveal(pick.a, toc.parentNode);
    };
    var request = function () { if (!ticking) { ticking = true; w.requestAnimationFrame(spy); } };
    on(w, 'scroll', request, { passive: true });
    on(w, 'resize', request, { passive: true });
    spy();
  }

  /* Copy buttons (navigator.clipboard needs a secure context, else execCommand). */
  function copy(text, done) {
    function fallback() {
      var ta = d.body.appendChild(d.createElement('textarea')), ok = false;
      ta.value = text;
      ta.style.cssText = 'position:fixed;top:0;opacity:0';
      ta.select();
      try { ok = d.execCommand('copy'); } catch (e) { /* unsupported */ }
      d.body.removeChild(ta);
      done(ok);
    }
    if (navigator.clipboard && w.isSecureContext) navigator.clipboard.writeText(text).then(function () { done(true); }, fallback);
    else fallback();
  }
  $$('.prose pre:not(.mermaid)').forEach(function (pre) {
    var wrap = d.createElement('div'), btn = d.createElement('button'), timer = 0;
    wrap.className = 'code-wrap';
    pre.parentNode.insertBefore(wrap, pre);
    wrap.appendChild(pre);
    if (pre.scrollWidth > pre.clientWidth) pre.tabIndex = 0; /* scrollable: reachable by keyboard */
    btn.type = 'button';
    btn.className = 'copy-btn';
    btn.textContent = 'Copy';
    btn.setAttribute('aria-label', 'Copy code to clipboard');
    wrap.appendChild(btn);
    on(btn, 'click', function () {
      var code = $('code', pre) || pre;
      copy(code.textContent.replace(/\n$/, ''), function (ok) {
        btn.textContent = ok ? 'Copied' : 'Press Ctrl+C';
        btn.classList.add('is-done');
        if (!ok) w.getSelection().selectAllChildren(code);
        clearTimeout(timer);
        timer = setTimeout(function () { btn.textContent = 'Copy'; btn.classList.remove('is-done'); }, 1800);
      });
    });
  });

  /* Process maps: pre.mermaid drawn by the bundled Mermaid (its script is loaded only on pages
     that have one), in the theme shown, and drawn again when the theme changes. */
  var maps = $$('.prose pre.mermaid');
  if (w.mermaid && maps.length) {
    var sources = maps.map(function (el) { return el.textContent; });
    var draw = function () {
      maps.forEach(function (el, i) { el.removeAttribute('data-processed'); el.textContent = sources[i]; });
      w.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: isDark() ? 'dark' : 'default' });
      w.mermaid.run({ nodes: maps }).catch(function () { /* Mermaid draws the error in the diagram's place */ });
    };
    draw();
    on(themeBtn, 'click', draw);
    dark.on(draw);
  }

  /* Filter box of long page lists on section pages. */
  $$('input[data-filter]').forEach(function (input) {
    var list = d.getElementById(input.getAttribute('data-filter')), empty = $('.list-empty', input.closest('section'));
    if (!list) return;
    var items = $$('li', list).map(function (li) { return { li: li, text: li.textContent.toLowerCase() }; });
    input.parentNode.hidden = false;
    on(input, 'input', function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean), shown = 0;
      items.forEach(function (it) {
        it.li.hidden = !words.every(function (x) { return it.text.indexOf(x) >= 0; });
        if (!it.li.hidden) shown++;
      });
      if (empty) empty.hidden = shown > 0;
    });
  });
})();

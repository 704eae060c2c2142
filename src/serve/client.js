/* kbpub serve: added to every page the preview serves, never to a build.
   - Live reload: listens to /_kbpub/events; when the served generation differs from the one this
     page was served with, it saves the scroll position and reloads, and the reloaded page scrolls
     back there.
   - Errors: while the last rebuild has errors, an overlay lists them with file:line:col, message
     and code frame; the page underneath is the last good one. The overlay goes when they are fixed.
   - Reviewer panel: the views of this page (internal site, partner, Confluence) and what the preview
     knows about it, from /_kbpub/review. The chosen view follows links to other pages.
   Text from the server is shown with textContent only. */
(function () {
  'use strict';
  var script = document.currentScript;
  var generation = script.getAttribute('data-generation');
  var page = script.getAttribute('data-page');
  var view = script.getAttribute('data-view') || 'internal';
  var scrollKey = 'kbpub-serve-scroll:' + location.pathname + location.search;
  var d = document;

  function el(tag, className, text) {
    var e = d.createElement(tag);
    if (className) e.className = className;
    if (text != null) e.textContent = text;
    return e;
  }

  /* Scroll position across live reloads. */
  var saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(scrollKey) || 'null');
    sessionStorage.removeItem(scrollKey);
  } catch (e) { /* storage disabled: reloads start at the top */ }
  if (saved) {
    var restore = function () { window.scrollTo(saved.x, saved.y); };
    restore();
    if (d.readyState !== 'complete') window.addEventListener('load', restore);
  }

  /* A live reload turns the browser's own scroll restoration off for this page (this script
     restores once the new page has laid out); leaving it any other way turns it back on, for
     the back and forward buttons. */
  var reloading = false;
  function reload() {
    reloading = true;
    try {
      sessionStorage.setItem(scrollKey, JSON.stringify({ x: window.scrollX, y: window.scrollY }));
      history.scrollRestoration = 'manual';
    } catch (e) { /* reload anyway */ }
    location.reload();
  }
  window.addEventListener('pagehide', function () {
    if (!reloading) history.scrollRestoration = 'auto';
  });

  var style = el('style', null,
    '#kbpub-serve-overlay{position:fixed;inset:0;z-index:2147483000;overflow:auto;padding:4vh 4vw;' +
    'background:rgba(10,12,16,.82);font:14px/1.5 system-ui,sans-serif;color:#f3f4f6}' +
    '#kbpub-serve-overlay .kbpub-serve-box{max-width:60rem;margin:0 auto;background:#1b1e24;border:1px solid #f26d6d;' +
    'border-radius:8px;padding:1rem 1.25rem;box-shadow:0 8px 28px rgba(0,0,0,.5)}' +
    '#kbpub-serve-overlay h2{margin:0 0 .25rem;font-size:1.1rem;color:#f26d6d}' +
    '#kbpub-serve-overlay .kbpub-serve-note{margin:0 0 1rem;color:#a2a9b5}' +
    '#kbpub-serve-overlay .kbpub-serve-error{border-top:1px solid #2d323b;padding:.75rem 0}' +
    '#kbpub-serve-overlay .kbpub-serve-position{font:600 13px/1.4 ui-monospace,Menlo,Consolas,monospace;color:#74a8ff}' +
    '#kbpub-serve-overlay .kbpub-serve-message{margin:.15rem 0 .5rem;font-weight:600}' +
    '#kbpub-serve-overlay pre{margin:0;padding:.75rem;overflow:auto;background:#15171c;border-radius:6px;' +
    'font:12.5px/1.45 ui-monospace,Menlo,Consolas,monospace;white-space:pre}' +
    '#kbpub-serve-overlay button{float:right;border:0;background:none;color:inherit;font-size:1.4rem;cursor:pointer}' +
    '#kbpub-serve-panel{position:fixed;right:1rem;bottom:1rem;z-index:2147482000;max-width:22rem;' +
    'font:13px/1.45 system-ui,sans-serif;color:#1b1f24;background:#fff;border:1px solid #c9ced6;' +
    'border-radius:8px;box-shadow:0 8px 28px rgba(20,30,50,.18)}' +
    '#kbpub-serve-panel summary{cursor:pointer;padding:.45rem .75rem;font-weight:600}' +
    '#kbpub-serve-panel .kbpub-serve-views{display:flex;gap:.35rem;padding:0 .75rem .5rem}' +
    '#kbpub-serve-panel .kbpub-serve-views a,#kbpub-serve-panel .kbpub-serve-views span{padding:.15rem .6rem;' +
    'border:1px solid #c9ced6;border-radius:999px;color:#1f64d6;text-decoration:none}' +
    '#kbpub-serve-panel .kbpub-serve-views [aria-current]{background:#1f64d6;border-color:#1f64d6;color:#fff}' +
    '#kbpub-serve-panel .kbpub-serve-views span[aria-disabled]{color:#8b939e;border-style:dashed}' +
    '#kbpub-serve-panel dl{margin:0;padding:0 .75rem .6rem;display:grid;grid-template-columns:auto 1fr;gap:.1rem .6rem}' +
    '#kbpub-serve-panel dt{color:#59626f}#kbpub-serve-panel dd{margin:0}' +
    '#kbpub-serve-panel dd.kbpub-serve-warning{color:#b35c00;font-weight:600}');
  d.head.appendChild(style);

  /* The error overlay. */
  var overlay = null;
  function showErrors(status) {
    hideErrors();
    overlay = el('div');
    overlay.id = 'kbpub-serve-overlay';
    overlay.setAttribute('role', 'alertdialog');
    overlay.setAttribute('aria-label', 'Build errors');
    var box = overlay.appendChild(el('div', 'kbpub-serve-box'));
    var close = box.appendChild(el('button', null, '\u00d7'));
    close.type = 'button';
    close.title = 'Hide until the next rebuild';
    close.addEventListener('click', hideErrors);
    var n = status.error_count;
    box.appendChild(el('h2', null, n + (n === 1 ? ' error' : ' errors') + ' in the last edit'));
    var shown = status.errors.length < n ? ' (the first ' + status.errors.length + ' are shown)' : '';
    box.appendChild(el('p', 'kbpub-serve-note', 'This page is the last good build' + shown + '. Fix and save; the page reloads by itself.'));
    status.errors.forEach(function (error) {
      var item = box.appendChild(el('div', 'kbpub-serve-error'));
      item.appendChild(el('div', 'kbpub-serve-position', error.position));
      item.appendChild(el('div', 'kbpub-serve-message', error.message));
      item.appendChild(el('pre', null, error.report));
    });
    d.body.appendChild(overlay);
  }
  function hideErrors() {
    if (overlay) overlay.remove();
    overlay = null;
  }

  var events = new EventSource('/_kbpub/events');
  events.onmessage = function (message) {
    var status = JSON.parse(message.data);
    if (String(status.generation) !== generation) return reload();
    if (status.error_count > 0) showErrors(status); else hideErrors();
  };

  /* The reviewer panel. */
  function viewHref(name) {
    return location.pathname + (name === 'internal' ? '' : '?view=' + encodeURIComponent(name));
  }
  function showPanel(info) {
    var panel = el('details');
    panel.id = 'kbpub-serve-panel';
    panel.open = true;
    panel.appendChild(el('summary', null, 'Review: ' + info.title));
    var views = panel.appendChild(el('nav', 'kbpub-serve-views'));
    views.setAttribute('aria-label', 'Views of this page');
    info.views.forEach(function (v) {
      var item;
      if (v.available) {
        item = el('a', null, v.label);
        item.href = viewHref(v.name);
        if (v.name === view) item.setAttribute('aria-current', 'page');
      } else {
        item = el('span', null, v.label);
        item.setAttribute('aria-disabled', 'true');
      }
      item.setAttribute('data-view', v.name);
      if (v.note) item.title = v.note;
      views.appendChild(item);
    });
    var facts = panel.appendChild(el('dl'));
    info.facts.forEach(function (fact) {
      facts.appendChild(el('dt', null, fact.label));
      facts.appendChild(el('dd', fact.level === 'warning' ? 'kbpub-serve-warning' : null, fact.value));
    });
    facts.appendChild(el('dt', null, 'Source'));
    facts.appendChild(el('dd', null, info.source));
    d.body.appendChild(panel);
  }
  fetch('/_kbpub/review?page=' + encodeURIComponent(page))
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (info) { if (info) showPanel(info); })
    .catch(function () { /* no panel */ });

  /* Links to other pages keep the chosen view. */
  if (view !== 'internal') {
    d.addEventListener('click', function (e) {
      var a = e.target.closest && e.target.closest('a[href]');
      if (!a || a.origin !== location.origin || !/\.html$|\/$/.test(a.pathname) || a.closest('#kbpub-serve-panel')) return;
      var url = new URL(a.href);
      url.searchParams.set('view', view);
      a.href = url.href;
    }, true);
  }
})();

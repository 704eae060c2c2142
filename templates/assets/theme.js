/* kbpub: runs before the page is drawn (a blocking script in <head>): marks that scripts run and
   applies the reader's stored light/dark choice, so the page never flashes the other theme. */
(function (e) {
  e.className = 'js';
  try {
    var t = localStorage.getItem('kbpub-theme');
    if (t === 'dark' || t === 'light') e.setAttribute('data-theme', t);
  } catch (_) { /* storage disabled */ }
})(document.documentElement);

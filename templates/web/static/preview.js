// The editor's preview page reloads itself when a file under content/ or templates/email/
// changes, or an issue does: it polls the version the page was rendered at. A file of its
// own, so the page's Content-Security-Policy allows no inline script.
"use strict";
(() => {
  const shown = document.body.dataset.version;
  const source = document.body.dataset.versionUrl;
  setInterval(async () => {
    try {
      const answer = await fetch(source, {cache: "no-store"});
      if (answer.ok && (await answer.text()) !== shown) location.reload();
    } catch (e) { /* the server is restarting; try again */ }
  }, 1000);
})();

// The desk's issue page while the issue sends: polls the send's figures every two seconds
// and writes them in place, so the email's frames and any half-typed form stay as they are.
// When the send is over, the page reloads once to show the outcome and the report. A file of
// its own (the Content-Security-Policy allows no inline script); without JavaScript the page
// reloads itself instead (<noscript> meta refresh) and has a Refresh link.
"use strict";
(() => {
  const box = document.querySelector("[data-progress-url]");
  if (!box) return;
  const source = box.dataset.progressUrl;
  const format = new Intl.NumberFormat("en-US", {maximumFractionDigits: 0});
  const timer = setInterval(async () => {
    try {
      const answer = await fetch(source, {cache: "no-store", credentials: "same-origin"});
      if (!answer.ok) return;
      const figures = await answer.json();
      for (const cell of box.querySelectorAll("[data-figure]")) {
        const value = figures[cell.dataset.figure];
        if (typeof value === "number") cell.textContent = format.format(value);
      }
      const badge = document.getElementById("issue-status");
      if (badge) badge.textContent = figures.status;
      if (!figures.live) {
        clearInterval(timer);
        location.reload();
      }
    } catch (e) { /* the server is restarting: try again at the next tick */ }
  }, 2000);
})();

// Failed operations: refresh the list every 30 seconds while the page is visible, by fetching the
// same page and swapping its list in. Without this script the page has a Refresh link.
(function () {
  "use strict";
  var region = document.getElementById("queue");
  if (!region || !window.fetch || !window.DOMParser) { return; }
  var status = document.getElementById("refresh-status");
  function refresh() {
    if (document.hidden) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("queue");
        if (!fresh) { return; }
        // Keep keyboard focus where it was when the list is replaced.
        var focused = document.activeElement && document.activeElement.id;
        region.replaceWith(fresh);
        region = fresh;
        if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
        if (status) { status.textContent = "Updated " + new Date().toLocaleTimeString(); }
      })
      .catch(function () { /* keep the list as it is; the next round tries again */ });
  }
  window.setInterval(refresh, 30000);
})();

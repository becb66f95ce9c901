"use strict";
// The demo's stand-in for a customer's page script: one visitor id per browser, and the widget
// started with a token URL, as a real page would point it at its own backend.
(function () {
  var visitor = localStorage.getItem("parley-demo-visitor");
  if (!visitor) {
    visitor = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
    localStorage.setItem("parley-demo-visitor", visitor);
  }
  var tokenUrl = "/demo/token?visitor=" + encodeURIComponent(visitor);
  document.getElementById("iframe-link").href = "/demo/iframe?visitor=" + encodeURIComponent(visitor);
  document.getElementById("view-link").href = "/demo/view?visitor=" + encodeURIComponent(visitor);
  window.Parley.init({ tokenUrl: tokenUrl, openOnLoad: new URLSearchParams(location.search).has("open") });
})();

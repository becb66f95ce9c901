/*
 * The iframe page (/embedded-chat): the widget, inline and full-page, speaking a small
 * postMessage protocol with the page that frames it.
 *
 * To the parent:  {type: "PARLEY_EMBED_READY"}, {type: "PARLEY_EMBED_TOKEN_EXPIRED"},
 *                 {type: "PARLEY_EMBED_ERROR", error: code} — always to the parent's exact
 *                 origin, and only if that origin is one the workspace allows (never "*").
 * From the parent: {type: "PARLEY_EMBED_SET_TOKEN", token} — accepted only from an allowed origin.
 */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("parley-data").textContent);
  var params = new URLSearchParams(location.search);
  var token = params.get("token");

  // The token leaves the address bar (and so history and any later Referer) at once.
  params.delete("token");
  history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params.toString() : ""));

  var allowed = config.allowed_origins || [];
  function parentOrigin() {
    var candidates = [];
    if (location.ancestorOrigins && location.ancestorOrigins.length) candidates.push(location.ancestorOrigins[0]);
    if (document.referrer) {
      try { candidates.push(new URL(document.referrer).origin); } catch (error) { /* not a URL */ }
    }
    if (allowed.length === 1) candidates.push(allowed[0]);
    for (var i = 0; i < candidates.length; i++) if (allowed.indexOf(candidates[i]) >= 0) return candidates[i];
    return null;
  }
  var target = window.parent !== window ? parentOrigin() : null;
  function post(message) {
    if (target) window.parent.postMessage(message, target);
  }

  function start(withToken) {
    var widget = window.Parley.init({
      token: withToken, mode: "inline", mount: "#chat", theme: config.theme, primaryColor: config.primary_color,
      locale: config.locale, hideHeader: config.hide_header
    });
    widget.on("ready", function () { post({ type: "PARLEY_EMBED_READY" }); });
    widget.on("token_expired", function () { post({ type: "PARLEY_EMBED_TOKEN_EXPIRED" }); });
    widget.on("error", function (detail) {
      if (detail && detail.code === "token_expired") post({ type: "PARLEY_EMBED_TOKEN_EXPIRED" });
      else post({ type: "PARLEY_EMBED_ERROR", error: (detail && detail.code) || "error" });
    });
    return widget;
  }

  var widget = start(token);
  window.addEventListener("message", function (event) {
    if (allowed.indexOf(event.origin) < 0 || event.source !== window.parent) return;
    var data = event.data;
    if (!data || data.type !== "PARLEY_EMBED_SET_TOKEN" || typeof data.token !== "string" || data.token.length > 8192) return;
    if (widget.session) widget.setToken(data.token);
    else widget = start(data.token);
  });
})();

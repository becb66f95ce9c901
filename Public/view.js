/*
 * The read-only conversation page (/view/…): renders the messages the server embedded, then
 * keeps them current by polling the signed messages URL while a reply is streaming or recent.
 */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("parley-data").textContent);
  var list = document.getElementById("messages");
  document.getElementById("title").textContent = data.conversation.title || "Conversation";

  function render(messages) {
    var items = messages.map(function (message) {
      var item = document.createElement("li");
      var mine = data.mine && message.role === data.mine;
      item.className = "message " + message.role + (mine ? " mine" : "") +
        (message.status === "failed" || message.status === "interrupted" ? " failed" : "");
      if (message.role === "assistant") item.appendChild(window.Parley.renderMarkdown(message.content || "", document.documentElement.lang));
      else item.textContent = message.content;
      if (message.status === "streaming") item.setAttribute("aria-busy", "true");
      return item;
    });
    list.replaceChildren.apply(list, items);
  }

  render(data.messages);
  var quietPolls = 0;
  function poll() {
    fetch(data.poll_path, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (page) {
        if (!page) return;
        var changed = JSON.stringify(page.data) !== JSON.stringify(data.messages);
        data.messages = page.data;
        if (changed) { render(page.data); quietPolls = 0; } else { quietPolls++; }
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, quietPolls > 30 ? 10000 : 1500); });
  }
  setTimeout(poll, 1500);
})();

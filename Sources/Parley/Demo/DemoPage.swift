/// The host page of `parley demo` at `/demo`: a plain chat client of the public API, fetching its
/// embed token from `/demo/token` the way a customer's page would from its own backend. Script
/// and styles are separate files, so the page runs under a CSP with no `'unsafe-inline'`.
enum DemoPage {
    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <meta name="viewport" content="width=device-width, initial-scale=1">
          <title>Parley demo</title>
          <link rel="stylesheet" href="/demo/demo.css">
          <script src="/demo/demo.js" defer></script>
        </head>
        <body>
          <main>
            <header>
              <h1 id="bot-name">Parley demo</h1>
              <button id="new-conversation" type="button">New conversation</button>
            </header>
            <ol id="messages" aria-live="polite"></ol>
            <form id="composer">
              <label for="input" class="visually-hidden">Message</label>
              <textarea id="input" rows="2" placeholder="Say hello…" required></textarea>
              <button type="submit" id="send">Send</button>
            </form>
            <p class="note">Offline demo: replies come from Parley's own demo model through libcurl.</p>
          </main>
        </body>
        </html>
        """

    static let css = """
        :root { --primary: #1f6feb; font-family: system-ui, sans-serif; color: #1b1f24; background: #f4f6f8; }
        body { margin: 0; }
        main { max-width: 720px; margin: 0 auto; min-height: 100vh; display: flex; flex-direction: column; background: #fff; }
        header { display: flex; justify-content: space-between; align-items: center; padding: 12px 16px; border-bottom: 1px solid #d0d7de; }
        h1 { font-size: 1.1rem; margin: 0; }
        button { background: var(--primary); color: #fff; border: 0; border-radius: 8px; padding: 8px 14px; font: inherit; cursor: pointer; }
        button:disabled { opacity: .5; cursor: default; }
        #messages { list-style: none; margin: 0; padding: 16px; flex: 1; overflow-y: auto; display: flex; flex-direction: column; gap: 10px; }
        #messages li { max-width: 80%; padding: 10px 14px; border-radius: 14px; white-space: pre-wrap; line-height: 1.45; }
        #messages li.user { align-self: flex-end; background: var(--primary); color: #fff; border-bottom-right-radius: 4px; }
        #messages li.assistant { align-self: flex-start; background: #eef1f4; border-bottom-left-radius: 4px; }
        #messages li.failed { border: 1px solid #cf222e; }
        form { display: flex; gap: 8px; padding: 12px 16px; border-top: 1px solid #d0d7de; }
        textarea { flex: 1; resize: none; font: inherit; padding: 8px; border: 1px solid #d0d7de; border-radius: 8px; }
        .note { font-size: .8rem; color: #57606a; text-align: center; margin: 0 0 12px; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
        """

    static let script = """
        "use strict";
        (() => {
          const list = document.getElementById("messages");
          const input = document.getElementById("input");
          const send = document.getElementById("send");
          let token = null;
          let conversation = null;
          let greeting = null;

          const visitor = localStorage.getItem("parley-demo-visitor") || crypto.randomUUID();
          localStorage.setItem("parley-demo-visitor", visitor);

          async function api(path, options = {}) {
            const headers = Object.assign({ Authorization: "Bearer " + token }, options.body ? { "Content-Type": "application/json" } : {});
            const response = await fetch(path, Object.assign({}, options, { headers }));
            if (!response.ok) throw new Error((await response.json()).error.message);
            return response;
          }

          function bubble(role, text, status) {
            const item = document.createElement("li");
            item.className = role + (status === "failed" || status === "interrupted" ? " failed" : "");
            item.textContent = text;
            list.appendChild(item);
            item.scrollIntoView({ block: "end" });
            return item;
          }

          async function load() {
            token = (await (await fetch("/demo/token?visitor=" + encodeURIComponent(visitor), { method: "POST" })).json()).token;
            const session = await (await api("/v1/session")).json();
            document.getElementById("bot-name").textContent = session.bot.name;
            greeting = session.bot.greeting;
            const recent = await (await api("/v1/conversations?limit=1")).json();
            conversation = recent.data.length ? recent.data[0].id : null;
            list.replaceChildren();
            if (greeting) bubble("assistant", greeting);
            if (conversation) {
              const messages = await (await api("/v1/conversations/" + conversation + "/messages?limit=100")).json();
              for (const message of messages.data) bubble(message.role, message.content, message.status);
            }
          }

          async function say(text) {
            if (!conversation) conversation = (await (await api("/v1/conversations", { method: "POST", body: "{}" })).json()).id;
            bubble("user", text);
            const reply = bubble("assistant", "");
            const response = await api("/v1/conversations/" + conversation + "/messages", {
              method: "POST", body: JSON.stringify({ content: text, client_message_id: crypto.randomUUID() })
            });
            const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
            let buffer = "";
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              buffer += value;
              let end;
              while ((end = buffer.indexOf("\\n\\n")) >= 0) {
                const frame = buffer.slice(0, end);
                buffer = buffer.slice(end + 2);
                const name = (frame.match(/^event: (.*)$/m) || [])[1];
                const data = (frame.match(/^data: (.*)$/m) || [])[1];
                if (!name || !data) continue;
                const payload = JSON.parse(data);
                if (name === "response.delta") reply.textContent += payload.delta;
                if (name === "response.error") { reply.classList.add("failed"); reply.textContent += "\\n[" + payload.error.message + "]"; }
                reply.scrollIntoView({ block: "end" });
              }
            }
          }

          document.getElementById("composer").addEventListener("submit", async (event) => {
            event.preventDefault();
            const text = input.value.trim();
            if (!text) return;
            input.value = "";
            send.disabled = true;
            try { await say(text); } catch (error) { bubble("assistant", "Error: " + error.message, "failed"); }
            send.disabled = false;
            input.focus();
          });
          input.addEventListener("keydown", (event) => {
            if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); document.getElementById("composer").requestSubmit(); }
          });
          document.getElementById("new-conversation").addEventListener("click", () => {
            conversation = null;
            list.replaceChildren();
            if (greeting) bubble("assistant", greeting);
            input.focus();
          });
          load().catch((error) => bubble("assistant", "Error: " + error.message, "failed"));
        })();
        """
}
